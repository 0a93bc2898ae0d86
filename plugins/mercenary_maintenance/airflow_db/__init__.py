"""Airflow's own metadata database (DESIGN §15 ``airflow_db``): ``airflow db clean`` in a
subprocess against the configured connection (tasks never use Airflow's ORM), keeping the audit
retention, then the oldest row of each cleaned table measured (``airflow_db.retention``)."""
