"""
### Maintenance preview (24 h before each weekly, monthly and quarterly window)

Read-only: for each target, what the coming window will do — tables `VACUUM (ANALYZE)` will
touch (dead tuples, size), indexes `REINDEX CONCURRENTLY` will rebuild (estimated bloat, size),
opt-in `VACUUM FULL` tables (size, ACCESS EXCLUSIVE), Redis actions, restore tests and local log
deletes. Each item has an estimated duration (median of previous runs, else from the size), its
lock, risk notes and rollback. The plan is the run's report (`plan`) and a Slack summary; the
window run reports planned vs done. Runbook: `docs/areas/change-management.md`.
"""

# An Airflow DAG file: the DAG processor only parses files mentioning "airflow" and "dag".
from __future__ import annotations

from pathlib import Path

from mercenary_maintenance.preview import tasks as preview
from mercenary_maintenance.preview.timetable import PreviewTimetable
from mercenary_maintenance.wiring.dagkit import Tag, maintenance_dag

with maintenance_dag(
    Path(__file__).stem,
    schedule=PreviewTimetable(),
    doc_md=__doc__,
    tags=[Tag.WEEKLY, Tag.MONTHLY, Tag.QUARTERLY, Tag.POSTGRES, Tag.REDIS],
):
    preview.PREVIEW.add()
