"""
### Emergency maintenance (manual only)

Trigger from the UI with a reason and a ticket. Critical: acts at once. Non-critical:
posts a Slack notice and waits at least one hour (the plan's minimum notice) before
acting; fail or mark the wait task to cancel. Dry-run by default.

Form: `action`, `check_set` (for action check_set), `target` (a configured target),
`objects` (optional tables/indexes), `severity`, `reason`, `ticket`, `dry_run`.
Runbook: `docs/areas/emergency.md`.
"""

# An Airflow DAG file: the DAG processor only parses files mentioning "airflow" and "dag".
from __future__ import annotations

from pathlib import Path

from mercenary_maintenance.emergency import tasks as emergency
from mercenary_maintenance.wiring.dagkit import Tag, maintenance_dag

with maintenance_dag(
    Path(__file__).stem,
    schedule=None,
    doc_md=__doc__,
    tags=[Tag.EMERGENCY],
    retries=0,
    params=emergency.form_params(),
    allowed_run_types=["manual"],
    # A non-critical request waiting out its notice must not hold back a critical one.
    max_active_runs=4,
):
    emergency.build()
