"""Airflow plugin registering the maintenance-window timetable (exactly once) and the pool guard.

This file sits at the top of the plugins folder; ``plugins/.airflowignore`` keeps
Airflow from importing the package's modules a second time as loose plugin files.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mercenary_maintenance import pool_guard
from mercenary_maintenance.windows.timetable import MaintenanceWindowTimetable


class MercenaryMaintenancePlugin(AirflowPlugin):
    name = "mercenary_maintenance"
    timetables = [MaintenanceWindowTimetable]  # noqa: RUF012 - AirflowPlugin API
    # creates a missing maintenance_heavy pool at the first run, loudly (scheduler)
    listeners = [pool_guard]  # noqa: RUF012 - AirflowPlugin API
