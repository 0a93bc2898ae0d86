-- backup.restore_test: the database's relations (tables, indexes, sequences, views, materialized views), for the chain restore's oracle.
SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND c.relpersistence <> 't'
  AND c.relkind IN ('r', 'p', 'i', 'I', 'S', 'v', 'm', 'f')
ORDER BY 1, 2
