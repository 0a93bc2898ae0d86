-- backup.restore_test on the target server: can pg_amcheck check the restored copy? amcheck is not a
-- trusted extension: a superuser installs it into the copy (pg_amcheck --install-missing); otherwise it
-- must be there already (from template1) with EXECUTE on its functions granted to this role.
SELECT r.rolsuper AS superuser,
       EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'amcheck') AS installed,
       COALESCE((SELECT bool_and(pg_catalog.has_function_privilege(p.oid, 'EXECUTE'))
                 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
                 JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'amcheck'
                 WHERE p.proname IN ('bt_index_check', 'bt_index_parent_check', 'verify_heapam')), false) AS executable
FROM pg_catalog.pg_roles r
WHERE r.rolname = current_user
