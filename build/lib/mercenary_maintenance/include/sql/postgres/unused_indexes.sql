-- postgres.unused_indexes: never-scanned indexes that enforce nothing (not unique, primary or
-- a constraint), since the statistics were last reset. last_idx_scan exists from PostgreSQL 16 on.
SELECT s.schemaname AS schema,
       s.relname AS table_name,
       s.indexrelname AS index_name,
       s.idx_scan,
       pg_relation_size(s.indexrelid) AS size_bytes,
       s.last_idx_scan, -- pg>=160000
       NULL::timestamptz AS last_idx_scan, -- pg<160000
       (SELECT stats_reset FROM pg_catalog.pg_stat_database WHERE datname = current_database()) AS stats_reset
FROM pg_catalog.pg_stat_user_indexes s
JOIN pg_catalog.pg_index i ON i.indexrelid = s.indexrelid
WHERE s.idx_scan = 0
  AND i.indisvalid
  AND NOT i.indisunique
  AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = s.indexrelid)
  AND pg_relation_size(s.indexrelid) >= %(min_bytes)s
ORDER BY size_bytes DESC
