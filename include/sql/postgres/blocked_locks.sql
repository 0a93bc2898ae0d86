-- postgres.blocked_locks: the plan's lock query, plus what is locked and how long it waits.
-- PostgreSQL 14+ measures the wait from pg_locks.waitstart; 13 has no waitstart and measures it from the
-- blocked query's start (lines ending in a pg>= / pg< marker apply to those versions only).
SELECT DISTINCT ON (blocked_locks.pid, blocking_locks.pid)
       blocked_locks.pid AS blocked_pid,
       blocked_activity.usename AS blocked_user,
       blocking_locks.pid AS blocking_pid,
       blocking_activity.usename AS blocking_user,
       blocked_activity.query AS blocked_statement,
       blocking_activity.query AS current_statement_in_blocking_process,
       blocking_activity.state AS blocking_state,
       blocked_activity.datname AS database,
       blocked_locks.locktype AS locktype,
       blocked_locks.mode AS blocked_mode,
       blocking_locks.mode AS blocking_mode,
       blocking_locks.granted AS blocking_granted,
       CASE WHEN blocked_locks.relation IS NOT NULL THEN blocked_locks.relation::regclass::text END AS relation,
       extract(epoch FROM now() - coalesce(blocked_locks.waitstart, blocked_activity.query_start, now()))::float8 AS wait_s -- pg>=140000
       extract(epoch FROM now() - coalesce(blocked_activity.query_start, now()))::float8 AS wait_s -- pg<140000
FROM pg_catalog.pg_locks blocked_locks
JOIN pg_catalog.pg_stat_activity blocked_activity ON blocked_activity.pid = blocked_locks.pid
JOIN pg_catalog.pg_locks blocking_locks
    ON blocking_locks.locktype = blocked_locks.locktype
    AND blocking_locks.database IS NOT DISTINCT FROM blocked_locks.database
    AND blocking_locks.relation IS NOT DISTINCT FROM blocked_locks.relation
    AND blocking_locks.page IS NOT DISTINCT FROM blocked_locks.page
    AND blocking_locks.tuple IS NOT DISTINCT FROM blocked_locks.tuple
    AND blocking_locks.virtualxid IS NOT DISTINCT FROM blocked_locks.virtualxid
    AND blocking_locks.transactionid IS NOT DISTINCT FROM blocked_locks.transactionid
    AND blocking_locks.classid IS NOT DISTINCT FROM blocked_locks.classid
    AND blocking_locks.objid IS NOT DISTINCT FROM blocked_locks.objid
    AND blocking_locks.objsubid IS NOT DISTINCT FROM blocked_locks.objsubid
    AND blocking_locks.pid != blocked_locks.pid
JOIN pg_catalog.pg_stat_activity blocking_activity ON blocking_activity.pid = blocking_locks.pid
WHERE NOT blocked_locks.granted
ORDER BY blocked_locks.pid, blocking_locks.pid, blocking_locks.granted DESC
