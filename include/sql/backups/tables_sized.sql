-- backup.full: the tables pg_dump writes, with their size and the planner's row estimate (which ones the dump counts exactly; takes no lock).
SELECT n.nspname AS schema_name, c.relname AS table_name,
       -- relpages (as of the last VACUUM/ANALYZE), not pg_relation_size(): that would lock the table
       c.relpages::bigint * current_setting('block_size')::bigint AS bytes, c.reltuples::bigint AS estimate
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%'
  AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 3, 1, 2
