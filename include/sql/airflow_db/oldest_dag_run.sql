-- airflow_db.retention (dag_run): as oldest_row, not counting the last non-manual run of each DAG, which `airflow db clean` keeps whatever its age.
WITH kept AS (
    SELECT dag_id, max(start_date) AS start_date FROM dag_run WHERE run_type <> 'manual' GROUP BY dag_id
)
SELECT extract(epoch FROM now() - min(r.start_date))::float8 AS oldest_s,
       count(*) FILTER (WHERE r.start_date < %(cutoff)s) AS stale,
       count(*) AS total
FROM dag_run r
WHERE NOT EXISTS (SELECT 1 FROM kept k WHERE k.dag_id = r.dag_id AND k.start_date = r.start_date)
