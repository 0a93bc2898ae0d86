-- postgres.checksum_failures: data-page checksum failures PostgreSQL has seen (corruption read from disk),
-- per database since its statistics were last reset, and whether data checksums are on at all.
SELECT coalesce(d.datname, '(shared objects)') AS database,
       coalesce(d.checksum_failures, 0) AS failures,
       d.checksum_last_failure::text AS last_failure,
       current_setting('data_checksums') = 'on' AS checksums_enabled
FROM pg_catalog.pg_stat_database d
ORDER BY 2 DESC, 1
