-- doctor: what the maintenance role may do on this server, read-only (python -m mercenary_maintenance.doctor).
SELECT current_setting('server_version_num')::int AS version_num,
       current_setting('server_version') AS version,
       current_user AS role,
       current_database() AS database,
       r.rolsuper AS superuser,
       r.rolcreatedb AS createdb,
       r.rolreplication AS replication,
       pg_catalog.pg_has_role(current_user, 'pg_monitor', 'USAGE') AS pg_monitor,
       -- NULL when hidden from this role (pg_read_all_settings, part of pg_monitor)
       (SELECT s.setting FROM pg_catalog.pg_settings s WHERE s.name = 'shared_preload_libraries') AS preload,
       (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_stat_statements') AS pgss_version,
       current_setting('summarize_wal', true) AS summarize_wal
FROM pg_catalog.pg_roles r
WHERE r.rolname = current_user
