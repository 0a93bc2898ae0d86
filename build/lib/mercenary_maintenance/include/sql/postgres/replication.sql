-- postgres.replication: replication slots (WAL they retain) and connected replicas (replay lag).
SELECT 'slot' AS kind,
       slot_name::text AS name,
       slot_type AS type,
       active,
       CASE WHEN pg_is_in_recovery() OR restart_lsn IS NULL THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 END AS lag_bytes,
       wal_status AS status
FROM pg_catalog.pg_replication_slots
UNION ALL
SELECT 'replica',
       coalesce(nullif(application_name, ''), client_addr::text, 'local'),
       sync_state,
       state = 'streaming',
       CASE WHEN pg_is_in_recovery() OR replay_lsn IS NULL THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 END,
       state
FROM pg_catalog.pg_stat_replication
