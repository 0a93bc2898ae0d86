-- backup.source: which cluster and database a backup comes from (pg_control_system() is executable by PUBLIC).
SELECT (SELECT system_identifier FROM pg_catalog.pg_control_system())::text AS system_identifier,
       current_database() AS database
