"""Backups to S3, retention, and restore verification."""

# The area's front door: the modules other layers (the wiring, the DAG files) may import;
# tests/dags/test_layers.py fails on an import of any other module of the area from outside it.
__all__ = ["bodies", "lifecycle", "tasks"]
