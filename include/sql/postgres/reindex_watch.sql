-- postgres.reindex: where a REINDEX CONCURRENTLY session is now: its wait event and its
-- create-index phase (no progress row yet: it is still waiting for its initial relation locks).
SELECT a.wait_event_type,
       a.wait_event,
       p.phase,
       p.index_relid::regclass::text AS index_name
FROM pg_catalog.pg_stat_activity a
LEFT JOIN pg_catalog.pg_stat_progress_create_index p ON p.pid = a.pid
WHERE a.pid = %(pid)s
