-- Databases marked as scratch restores (COMMENT ON DATABASE); the caller keeps those of its target.
SELECT datname, shobj_description(oid, 'pg_database') AS marker
FROM pg_database
WHERE shobj_description(oid, 'pg_database') LIKE %(head)s
ORDER BY 1
