"""Airflow's own metadata database (docs/configuration.md ``airflow_db``): ``airflow db clean`` in a
subprocess against the configured connection (tasks never use Airflow's ORM), keeping the audit
retention, then the oldest row of each cleaned table measured (``airflow_db.retention``)."""

# The area's front door: the modules other layers (the wiring, the DAG files) may import;
# tests/dags/test_layers.py fails on an import of any other module of the area from outside it.
__all__ = ["tasks"]
