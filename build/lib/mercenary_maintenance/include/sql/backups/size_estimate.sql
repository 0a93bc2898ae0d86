-- Bytes a backup will read, to size its upload parts (S3 allows 10,000 parts per object).
SELECT pg_database_size(current_database()) AS database_bytes,
       (SELECT coalesce(sum(pg_database_size(d.oid)), 0)
        FROM pg_database d
        WHERE d.datallowconn AND has_database_privilege(d.oid, 'CONNECT')) AS cluster_bytes
