-- postgres.cache_hit_ratio: buffer cache hits of this database, and the tables reading most from disk.
SELECT NULL::text AS schema,
       NULL::text AS table_name,
       d.blks_hit::float8 AS hits,
       d.blks_read::float8 AS reads
FROM pg_catalog.pg_stat_database d
WHERE d.datname = current_database()
UNION ALL
SELECT * FROM (
    SELECT t.schemaname::text, t.relname::text, t.heap_blks_hit::float8, t.heap_blks_read::float8
    FROM pg_catalog.pg_statio_user_tables t
    WHERE t.heap_blks_read > 0
    ORDER BY t.heap_blks_read DESC
    LIMIT 10
) worst
