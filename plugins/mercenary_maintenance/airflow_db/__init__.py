"""Airflow's own metadata database (docs/configuration.md ``airflow_db``): ``airflow db clean`` in a
subprocess against the configured connection (tasks never use Airflow's ORM), keeping the audit
retention, then the oldest row of each cleaned table measured (``airflow_db.retention``)."""
