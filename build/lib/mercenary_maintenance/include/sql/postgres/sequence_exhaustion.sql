-- postgres.sequence_exhaustion: each sequence's position, and the type of the column it
-- feeds (a bigint sequence behind an integer column runs out at 2^31 - 1).
SELECT s.schemaname AS schema,
       s.sequencename AS sequence,
       s.data_type::text AS data_type,
       s.last_value,
       s.min_value,
       s.max_value,
       s.increment_by,
       s.cycle,
       col.table_name,
       col.column_name,
       col.column_type
FROM pg_catalog.pg_sequences s
JOIN pg_catalog.pg_namespace n ON n.nspname = s.schemaname
JOIN pg_catalog.pg_class sc ON sc.relnamespace = n.oid AND sc.relname = s.sequencename
LEFT JOIN LATERAL (
    SELECT t.relname AS table_name, a.attname AS column_name, format_type(a.atttypid, NULL) AS column_type
    FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
    JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    WHERE d.classid = 'pg_catalog.pg_class'::regclass
      AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND d.objid = sc.oid
      AND d.deptype IN ('a', 'i')
    LIMIT 1
) col ON true
