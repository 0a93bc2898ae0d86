"""Airflow plugin registering the maintenance-window and preview timetables (exactly once), the
pool guard, and the operator's console: a FastAPI app on the api-server under ``/maintenance``
with a nav entry "Maintenance" and a "Maintenance report" tab on DAG-run pages (see docs/ui.md).

This file sits at the top of the plugins folder; ``plugins/.airflowignore`` keeps
Airflow from importing the package's modules a second time as loose plugin files.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mercenary_maintenance.console.app import URL_PREFIX, create_app
from mercenary_maintenance.preview.timetable import PreviewTimetable
from mercenary_maintenance.windows.timetable import MaintenanceWindowTimetable
from mercenary_maintenance.wiring import pool_guard


class MercenaryMaintenancePlugin(AirflowPlugin):
    name = "mercenary_maintenance"
    timetables = [MaintenanceWindowTimetable, PreviewTimetable]  # noqa: RUF012 - AirflowPlugin API
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Maintenance console"}]  # noqa: RUF012
    external_views = [  # noqa: RUF012 - AirflowPlugin API
        {"name": "Maintenance", "href": f"{URL_PREFIX}/", "destination": "nav", "url_route": "maintenance",
         "nav_top_level": True},
        {"name": "Maintenance report", "href": f"{URL_PREFIX}/runs/{{DAG_ID}}/{{RUN_ID}}",
         "destination": "dag_run", "url_route": "maintenance_report"},
    ]
    # creates a missing maintenance_heavy pool at the first run, loudly (scheduler)
    listeners = [pool_guard]  # noqa: RUF012 - AirflowPlugin API
