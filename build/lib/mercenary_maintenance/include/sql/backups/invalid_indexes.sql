-- Sample query on a restored database: indexes that failed to build.
SELECT count(*) FROM pg_index WHERE NOT indisvalid
