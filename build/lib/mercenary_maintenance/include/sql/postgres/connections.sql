-- postgres.connections: client sessions by database/user/state, and max_connections.
SELECT coalesce(a.datname, '') AS database,
       coalesce(a.usename, '') AS "user",
       coalesce(a.state, '') AS state,
       count(*)::int AS sessions,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS reserved
FROM pg_catalog.pg_stat_activity a
WHERE a.backend_type = 'client backend'
GROUP BY 1, 2, 3
UNION ALL
-- one row even when nobody is connected, so max_connections is always known
SELECT NULL, NULL, NULL, 0, current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int
