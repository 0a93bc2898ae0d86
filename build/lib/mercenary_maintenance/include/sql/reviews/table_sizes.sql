-- Largest tables of the connected database, indexes and TOAST included (reviews: capacity).
SELECT n.nspname || '.' || c.relname AS name,
       pg_total_relation_size(c.oid) AS bytes,
       c.reltuples::bigint AS rows_estimate
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_toast'
ORDER BY bytes DESC
LIMIT %(limit)s;
