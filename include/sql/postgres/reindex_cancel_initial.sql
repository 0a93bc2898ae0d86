-- postgres.reindex: cancel a REINDEX CONCURRENTLY only while it still waits for its initial
-- relation lock (no create-index progress yet: nothing has been built, a retry costs nothing).
SELECT pg_catalog.pg_cancel_backend(a.pid) AS cancelled
FROM pg_catalog.pg_stat_activity a
WHERE a.pid = %(pid)s
  AND a.wait_event_type = 'Lock'
  AND a.wait_event = 'relation'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p WHERE p.pid = a.pid)
