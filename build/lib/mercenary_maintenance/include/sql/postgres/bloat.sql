-- postgres.bloat: estimated table and b-tree index bloat from planner statistics (no scan of
-- the relations, so it is cheap on large databases). Expected size = rows × estimated tuple size
-- / usable page space at the fillfactor; bloat = share of the actual pages beyond that.
-- Relations never analyzed (no statistics) are reported with expected_pages NULL.
WITH const AS (
    SELECT current_setting('block_size')::numeric AS bs
),
rels AS (
    SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind, c.relam, c.reltuples::numeric AS reltuples,
           c.relpages::numeric AS relpages, c.reloptions
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'm', 'i')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast'
      AND c.relpages::numeric * (SELECT bs FROM const) >= %(min_bytes)s
),
colstats AS (
    SELECT s.schemaname, s.tablename, s.attname, s.null_frac, s.avg_width
    FROM pg_catalog.pg_stats s
    JOIN rels r ON r.schema = s.schemaname AND r.name = s.tablename AND r.relkind IN ('r', 'm')
    WHERE NOT s.inherited
),
tables AS (
    SELECT r.oid, 'table'::text AS kind, r.schema, r.name, NULL::text AS table_name, r.relpages, r.reltuples,
           coalesce((SELECT substring(o FROM '^fillfactor=([0-9]+)$')::numeric
                     FROM unnest(r.reloptions) o WHERE o LIKE 'fillfactor=%%'), 100) AS fillfactor,
           -- heap tuple: 23-byte header + null bitmap, aligned to 8, then the data aligned to 8, + 4-byte line pointer
           (SELECT 8 * ceil((23 + CASE WHEN max(cs.null_frac) > 0 THEN ceil(count(*) / 8.0) ELSE 0 END) / 8.0)
                 + 8 * ceil(sum((1 - cs.null_frac) * cs.avg_width) / 8.0) + 4
            FROM colstats cs WHERE cs.schemaname = r.schema AND cs.tablename = r.name
            HAVING count(*) > 0) AS tuple_bytes,
           24::numeric AS page_overhead
    FROM rels r
    WHERE r.relkind IN ('r', 'm')
),
indexes AS (
    SELECT r.oid, 'index'::text AS kind, r.schema, r.name, t.relname::text AS table_name, r.relpages, r.reltuples,
           coalesce((SELECT substring(o FROM '^fillfactor=([0-9]+)$')::numeric
                     FROM unnest(r.reloptions) o WHERE o LIKE 'fillfactor=%%'), 90) AS fillfactor,
           -- index tuple: 8-byte header + key data aligned to 8, + 4-byte line pointer;
           -- expression columns (attnum 0) have no column statistics: not estimated
           (SELECT 8 + 8 * ceil(sum((1 - s.null_frac) * s.avg_width) / 8.0) + 4
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_stats s ON s.schemaname = r.schema AND s.tablename = t.relname
                 AND s.attname = a.attname AND NOT s.inherited
            WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
            HAVING count(*) = i.indnkeyatts AND bool_and(a.attnum > 0)) AS tuple_bytes,
           (24 + 16)::numeric AS page_overhead   -- page header + b-tree special space
    FROM rels r
    JOIN pg_catalog.pg_index i ON i.indexrelid = r.oid
    JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
    JOIN pg_catalog.pg_am am ON am.oid = r.relam AND am.amname = 'btree'
    WHERE r.relkind = 'i' AND i.indisvalid
),
estimates AS (
    SELECT x.*,
           CASE WHEN x.tuple_bytes IS NULL OR x.reltuples < 0 THEN NULL
                ELSE ceil(x.reltuples / greatest(1, floor((c.bs - x.page_overhead) * x.fillfactor / 100 / x.tuple_bytes)))
                     + CASE WHEN x.kind = 'index' THEN 1 ELSE 0 END   -- b-tree metapage
           END AS expected_pages,
           c.bs
    FROM (SELECT * FROM tables UNION ALL SELECT * FROM indexes) x CROSS JOIN const c
)
SELECT kind, schema, name, table_name,
       (relpages * bs)::bigint AS size_bytes,
       expected_pages::bigint AS expected_pages,
       relpages::bigint AS pages,
       CASE WHEN expected_pages IS NULL THEN NULL
            ELSE greatest(0, (relpages - expected_pages) * bs)::bigint END AS wasted_bytes,
       CASE WHEN expected_pages IS NULL OR relpages = 0 THEN NULL
            ELSE greatest(0, round((100 * (1 - expected_pages / relpages))::numeric, 1))::float8 END AS bloat_percent
FROM estimates
ORDER BY wasted_bytes DESC NULLS LAST
