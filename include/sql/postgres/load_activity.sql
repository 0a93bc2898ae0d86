-- postgres.load_guard: non-idle client sessions other than maintenance's own (cluster-wide), the
-- longest running statement, and the worst replica replay lag.
WITH others AS (
    SELECT pid, application_name, state, query_start, query
    FROM pg_catalog.pg_stat_activity
    WHERE backend_type = 'client backend'
      AND pid <> pg_backend_pid()
      AND state IS NOT NULL AND state <> 'idle'
      AND application_name NOT LIKE %(ours)s
), longest AS (
    SELECT pid, application_name, query, extract(epoch FROM now() - query_start)::float8 AS seconds
    FROM others WHERE state = 'active' AND query_start IS NOT NULL
    ORDER BY query_start LIMIT 1
)
SELECT (SELECT count(*) FROM others)::int AS active_sessions,
       (SELECT count(*) FROM others WHERE state LIKE 'idle in transaction%%')::int AS idle_in_transaction,
       (SELECT seconds FROM longest) AS longest_query_s,
       (SELECT pid FROM longest) AS longest_query_pid,
       (SELECT application_name FROM longest) AS longest_query_application,
       (SELECT query FROM longest) AS longest_query,
       (SELECT max(extract(epoch FROM replay_lag))::float8 FROM pg_catalog.pg_stat_replication) AS replay_lag_s,
       (SELECT count(*) FROM pg_catalog.pg_stat_replication)::int AS replicas
