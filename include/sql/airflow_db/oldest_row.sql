-- airflow_db.retention: the oldest row of one cleaned metadata table (by the column `airflow db clean` ages it by) and the rows still older than the clean's cutoff.
SELECT extract(epoch FROM now() - min({column}))::float8 AS oldest_s,
       count(*) FILTER (WHERE {column} < %(cutoff)s) AS stale,
       count(*) AS total
FROM {table}
