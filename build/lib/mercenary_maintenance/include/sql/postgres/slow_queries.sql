-- postgres.slow_queries: statements of this database by mean execution time
-- ({schema} is the extension's schema, passed as an identifier).
SELECT s.queryid::text AS queryid,
       r.rolname AS "user",
       s.calls,
       s.mean_exec_time::float8 AS mean_ms,
       s.total_exec_time::float8 AS total_ms,
       s.rows,
       left(s.query, 300) AS query
FROM {schema}.pg_stat_statements s
LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid
WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND s.calls >= %(min_calls)s
ORDER BY s.mean_exec_time DESC
LIMIT 20
