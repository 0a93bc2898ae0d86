-- doctor airflow_db: is this Airflow's metadata database, and may the connected role delete from the tables to clean?
SELECT t AS table_name,
       to_regclass(t) IS NOT NULL AS present,
       CASE WHEN to_regclass(t) IS NULL THEN false ELSE has_table_privilege(t, 'DELETE') END AS can_delete,
       to_regclass('alembic_version') IS NOT NULL AS migrated
FROM unnest(%(tables)s::text[]) AS t
