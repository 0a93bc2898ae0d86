"""The operator's console: a FastAPI app the plugin mounts on the api-server under ``/maintenance``.

Pages (overview, trends, plan compliance, a run's report), ``api/status`` (JSON) and
``metrics`` (Prometheus), all behind Airflow's own authentication (``auth.py``). The data
comes from the run summaries' journal through a small SQLite cache (``index.py``), so a
request reads only what was written since the last one.
"""

# The area's front door: the modules other layers (the wiring, the DAG files) may import;
# tests/dags/test_layers.py fails on an import of any other module of the area from outside it.
__all__ = ["app", "plan"]
