-- preview: how busy the target is now, and the database's size (restore-test estimate); read-only.
SELECT (SELECT count(*) FROM pg_catalog.pg_stat_activity
        WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid())::int AS active_sessions,
       pg_database_size(current_database())::bigint AS database_bytes
