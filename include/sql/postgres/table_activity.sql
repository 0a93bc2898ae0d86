-- postgres.load_guard (ACCESS EXCLUSIVE actions): the table's read/write counters and the other
-- sessions holding a lock on it right now. Sampled twice; the difference is its rate.
SELECT coalesce(t.seq_scan, 0) + coalesce(t.idx_scan, 0) + t.n_tup_ins + t.n_tup_upd + t.n_tup_del AS ops,
       ARRAY(SELECT DISTINCT l.pid FROM pg_catalog.pg_locks l
             WHERE l.locktype = 'relation' AND l.relation = %(relid)s::oid
               AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
               AND l.pid <> pg_backend_pid()) AS pids
FROM pg_catalog.pg_stat_user_tables t
WHERE t.relid = %(relid)s::oid
