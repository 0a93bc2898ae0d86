-- postgres.long_running_transactions: open transactions older than the threshold, including
-- sessions "idle in transaction" (they hold locks and stop VACUUM from removing dead rows).
SELECT pid,
       usename AS "user",
       datname AS database,
       application_name,
       client_addr::text AS client_addr,
       state,
       extract(epoch FROM now() - xact_start)::float8 AS duration_s,
       extract(epoch FROM now() - state_change)::float8 AS in_state_s,
       left(query, 500) AS query
FROM pg_catalog.pg_stat_activity
WHERE xact_start IS NOT NULL
  AND now() - xact_start > make_interval(secs => %(seconds)s)
  AND pid <> pg_backend_pid()
  AND backend_type = 'client backend'
ORDER BY xact_start
