-- postgres.reindex: invalid leftovers of REINDEX CONCURRENTLY (*_ccnew*, *_ccold*) — of this
-- run or of earlier ones — with the sessions building an index on their table right now (a
-- leftover of a REINDEX still running elsewhere is not ours to drop).
SELECT n.nspname AS schema,
       c.relname AS index_name,
       t.relname AS table_name,
       i.indrelid::int8 AS table_oid,
       i.indisready AS ready,
       pg_catalog.pg_relation_size(c.oid) AS size_bytes,
       ARRAY(SELECT p.pid FROM pg_catalog.pg_stat_progress_create_index p
             WHERE p.relid = i.indrelid AND p.pid <> pg_catalog.pg_backend_pid()) AS building_pids
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid
  AND c.relname ~ '_cc(new|old)[0-9]*$'
  AND (%(table_oid)s::int8 IS NULL OR i.indrelid = %(table_oid)s::int8::oid)
ORDER BY 1, 2
