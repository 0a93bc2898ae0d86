-- preview: on-disk size of the relations a window will touch (labels "schema.name"); read-only.
SELECT n.nspname AS schema,
       c.relname AS name,
       c.relkind::text AS kind,
       pg_relation_size(c.oid)::bigint AS size_bytes,
       pg_total_relation_size(c.oid)::bigint AS total_bytes
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname || '.' || c.relname = ANY (%(labels)s)
