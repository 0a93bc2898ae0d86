-- Top statements of the reviewed database by mean execution time (pg_stat_statements is cluster-wide;
-- PostgreSQL 13+ column names).
-- {schema} is the extension's schema, composed with psycopg.sql.Identifier.
SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 160) AS query,
       calls,
       round(mean_exec_time::numeric, 2) AS mean_ms,
       round(total_exec_time::numeric, 1) AS total_ms
FROM {schema}.pg_stat_statements
WHERE calls >= %(min_calls)s
  AND dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
ORDER BY mean_exec_time DESC
LIMIT %(limit)s;
