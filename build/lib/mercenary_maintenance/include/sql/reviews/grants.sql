-- Explicit privileges on relations of the connected database and on databases, per grantee
-- (an owner's implicit rights are left out) (reviews: access).
SELECT COALESCE(g.rolname, 'PUBLIC') AS grantee,
       a.privilege_type || ' on ' || n.nspname || '.' || c.relname AS privilege
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(c.relacl) a
LEFT JOIN pg_roles g ON g.oid = a.grantee
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_toast'
  AND a.grantee <> c.relowner
UNION ALL
SELECT COALESCE(g.rolname, 'PUBLIC'),
       a.privilege_type || ' on database ' || d.datname
FROM pg_database d
CROSS JOIN LATERAL aclexplode(d.datacl) a
LEFT JOIN pg_roles g ON g.oid = a.grantee
WHERE a.grantee <> d.datdba
ORDER BY 1, 2;
