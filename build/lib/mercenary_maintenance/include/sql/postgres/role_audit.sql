-- postgres.role_audit: who can do what (the plan's "review user access"). Never reads passwords.
SELECT r.rolname AS role,
       r.rolsuper AS superuser,
       r.rolcanlogin AS can_login,
       r.rolvaliduntil AS valid_until,
       r.rolcreaterole AS create_role,
       r.rolcreatedb AS create_db,
       r.rolreplication AS replication,
       r.rolbypassrls AS bypass_rls,
       EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.usename = r.rolname) AS connected_now,
       (EXISTS (SELECT 1 FROM pg_catalog.pg_shdepend d
                WHERE d.refclassid = 'pg_catalog.pg_authid'::regclass AND d.refobjid = r.oid)
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_database db WHERE db.datdba = r.oid)
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m WHERE m.roleid = r.oid OR m.member = r.oid)
       ) AS owns_grants_or_members,
       ARRAY(SELECT g.rolname::text FROM pg_catalog.pg_auth_members m
             JOIN pg_catalog.pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) AS member_of
FROM pg_catalog.pg_roles r
WHERE r.rolname !~ '^pg_'
ORDER BY r.rolname
