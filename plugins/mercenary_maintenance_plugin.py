"""Airflow plugin registering the maintenance-window and preview timetables (exactly once).

This file sits at the top of the plugins folder; ``plugins/.airflowignore`` keeps
Airflow from importing the package's modules a second time as loose plugin files.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mercenary_maintenance.preview.timetable import PreviewTimetable
from mercenary_maintenance.windows.timetable import MaintenanceWindowTimetable


class MercenaryMaintenancePlugin(AirflowPlugin):
    name = "mercenary_maintenance"
    timetables = [MaintenanceWindowTimetable, PreviewTimetable]  # noqa: RUF012 - AirflowPlugin API
