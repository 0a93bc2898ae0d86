-- postgres.vacuum_full: what a rewrite of the table needs (its heap + TOAST and its indexes, all
-- written anew) and where it is written: the table's tablespace directory ('' = the data directory;
-- data_directory is NULL unless the role may read it).
SELECT pg_catalog.pg_table_size(c.oid) AS table_bytes,
       pg_catalog.pg_indexes_size(c.oid) AS index_bytes,
       t.spcname AS tablespace,
       pg_catalog.pg_tablespace_location(t.oid) AS location,
       (SELECT s.setting FROM pg_catalog.pg_settings s WHERE s.name = 'data_directory') AS data_directory
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_database d ON d.datname = pg_catalog.current_database()
JOIN pg_catalog.pg_tablespace t ON t.oid = coalesce(nullif(c.reltablespace, 0), d.dattablespace)
WHERE c.oid = %(relid)s::oid
