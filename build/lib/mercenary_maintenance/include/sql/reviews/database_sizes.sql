-- Size of every connectable database (reviews: capacity).
SELECT datname AS name, pg_database_size(oid) AS bytes
FROM pg_database
WHERE datallowconn AND NOT datistemplate
ORDER BY bytes DESC;
