-- postgres.reindex: the sessions a REINDEX CONCURRENTLY phase wait (WaitForLockers,
-- WaitForOlderSnapshots) is waiting for.
SELECT a.pid,
       NULL::text AS mode,
       NULL::text AS relation,
       a.application_name,
       a.state,
       a.query_start,
       extract(epoch FROM now() - a.xact_start)::float8 AS xact_s,
       a.query
FROM pg_catalog.pg_stat_activity a
WHERE a.pid = ANY(pg_catalog.pg_blocking_pids(%(pid)s))
ORDER BY a.xact_start NULLS LAST, a.pid
LIMIT 5
