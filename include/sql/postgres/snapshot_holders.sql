-- Short lock attempts, when no relation lock conflicts: the oldest open transactions of this
-- database (REINDEX CONCURRENTLY waits for every older snapshot to end).
SELECT a.pid,
       NULL::text AS mode,
       true AS granted,
       NULL::text AS relation,
       a.application_name,
       a.usename::text AS user_name,
       a.state,
       a.query_start,
       extract(epoch FROM now() - a.xact_start)::float8 AS xact_s,
       a.query
FROM pg_catalog.pg_stat_activity a
WHERE a.datname = current_database()
  AND a.backend_type = 'client backend'
  AND a.xact_start IS NOT NULL
  AND a.pid <> pg_backend_pid()
ORDER BY a.xact_start, a.pid
LIMIT 5
