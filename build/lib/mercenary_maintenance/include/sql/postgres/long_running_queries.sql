-- postgres.long_running_queries: statements running longer than the threshold.
SELECT pid,
       usename AS "user",
       datname AS database,
       application_name,
       state,
       wait_event_type,
       extract(epoch FROM now() - query_start)::float8 AS duration_s,
       left(query, 500) AS query
FROM pg_catalog.pg_stat_activity
WHERE state = 'active'
  AND now() - query_start > make_interval(secs => %(seconds)s)
  AND pid <> pg_backend_pid()
  AND backend_type = 'client backend'
ORDER BY query_start
