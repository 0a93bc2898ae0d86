-- backup.restore_test: where the restored server's WAL is, and whether it still waits for the end of a backup.
SELECT pg_catalog.pg_is_in_recovery() AS in_recovery,
       pg_catalog.pg_current_wal_lsn()::text AS current_lsn,
       pg_catalog.pg_current_wal_lsn() >= %(end_lsn)s::pg_lsn AS reached,
       (SELECT backup_end_lsn::text FROM pg_catalog.pg_control_recovery()) AS backup_end_lsn,
       (SELECT end_of_backup_record_required FROM pg_catalog.pg_control_recovery()) AS end_record_required
