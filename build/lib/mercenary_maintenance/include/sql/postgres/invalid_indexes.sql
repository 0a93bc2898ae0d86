-- postgres.invalid_indexes: indexes left invalid (failed CREATE INDEX / REINDEX CONCURRENTLY):
-- they are maintained on every write but never used by the planner.
SELECT n.nspname AS schema,
       t.relname AS table_name,
       c.relname AS index_name,
       i.indisready AS ready,
       pg_relation_size(c.oid) AS size_bytes
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid
ORDER BY 1, 2, 3
