-- maintenance.skipped (standby): is the target in recovery (a standby), and which primary does it
-- stream from: the WAL receiver's host and port; primary_conninfo is parsed for host and port only
-- (it may hold a password). Both are NULL for a role that may not read them. The two settings say
-- whether a long read (a dump) on the standby can be cancelled by a recovery conflict.
SELECT pg_catalog.pg_is_in_recovery() AS in_recovery,
       (SELECT r.sender_host FROM pg_catalog.pg_stat_wal_receiver r LIMIT 1) AS sender_host,
       (SELECT r.sender_port FROM pg_catalog.pg_stat_wal_receiver r LIMIT 1) AS sender_port,
       (SELECT s.setting FROM pg_catalog.pg_settings s WHERE s.name = 'primary_conninfo') AS primary_conninfo,
       pg_catalog.current_setting('hot_standby_feedback') AS hot_standby_feedback,
       pg_catalog.current_setting('max_standby_streaming_delay') AS max_standby_streaming_delay
