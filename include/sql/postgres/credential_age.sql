-- security.credential_age: login roles whose password never expires or has expired (rolvaliduntil).
-- Never reads passwords (pg_roles shows them masked).
SELECT r.rolname AS role,
       r.rolsuper AS superuser,
       r.rolvaliduntil AS valid_until,
       (r.rolvaliduntil IS NULL OR r.rolvaliduntil = 'infinity') AS never_expires,
       (r.rolvaliduntil IS NOT NULL AND r.rolvaliduntil <> 'infinity' AND r.rolvaliduntil < now()) AS expired
FROM pg_catalog.pg_roles r
WHERE r.rolcanlogin AND r.rolname !~ '^pg_'
ORDER BY r.rolname
