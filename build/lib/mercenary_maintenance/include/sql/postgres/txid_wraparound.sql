-- postgres.txid_wraparound: age of each database's oldest unfrozen transaction ID
-- (check_postgres txn_wraparound: warning 1.3e9, critical 1.4e9, out of ~2.1e9).
SELECT datname AS database,
       age(datfrozenxid)::bigint AS xid_age,
       mxid_age(datminmxid)::bigint AS mxid_age
FROM pg_catalog.pg_database
ORDER BY 2 DESC
