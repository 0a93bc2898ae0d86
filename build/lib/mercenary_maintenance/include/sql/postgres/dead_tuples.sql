-- postgres.dead_tuples: the plan's dead-tuple query, with the dead ratio and schema.
SELECT schemaname AS schema,
       relname AS table_name,
       n_live_tup AS live_tuples,
       n_dead_tup AS dead_tuples,
       (100.0 * n_dead_tup / nullif(n_live_tup + n_dead_tup, 0))::float8 AS dead_percent,
       n_mod_since_analyze AS modified_since_analyze,
       last_vacuum,
       last_autovacuum,
       last_analyze,
       last_autoanalyze
FROM pg_catalog.pg_stat_user_tables
ORDER BY n_dead_tup DESC
