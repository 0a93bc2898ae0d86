-- Short lock attempts: who holds (or is queued ahead for) a lock that conflicts with the mode a
-- maintenance statement wanted on these relations. Run right after an attempt timed out.
SELECT l.pid,
       l.mode,
       l.granted,
       l.relation::regclass::text AS relation,
       a.application_name,
       a.usename::text AS user_name,
       a.state,
       a.query_start,
       extract(epoch FROM now() - a.xact_start)::float8 AS xact_s,
       a.query
FROM pg_catalog.pg_locks l
JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation'
  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND l.relation = ANY(%(relids)s::oid[])
  AND l.mode = ANY(%(modes)s::text[])
  AND l.pid <> pg_backend_pid()
ORDER BY l.granted DESC, a.xact_start NULLS LAST, l.pid
LIMIT 5
