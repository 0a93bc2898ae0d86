-- Schema of the pg_stat_statements extension, if it is installed in this database.
SELECT extnamespace::regnamespace::text AS schema
FROM pg_extension
WHERE extname = 'pg_stat_statements';
