"""Change management: the preview of each maintenance window (what it will do, with figures,
risk and rollback), planned vs done, and approvals of risky actions in the Airflow UI."""

# The area's front door: the modules other layers (the wiring, the DAG files) may import;
# tests/dags/test_layers.py fails on an import of any other module of the area from outside it.
__all__ = ["tasks", "timetable"]
