-- What pg_basebackup --incremental needs: WAL summarization and the REPLICATION attribute.
SELECT current_setting('summarize_wal', true) AS summarize_wal,
       (r.rolreplication OR r.rolsuper) AS can_replicate
FROM pg_roles r
WHERE r.rolname = current_user
