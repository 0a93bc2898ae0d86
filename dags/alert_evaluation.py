"""
### Alert evaluation (every 5 minutes)

The plan's alert thresholds (CPU, memory, disk, error rate, p95 latency) evaluated
from Prometheus (or host metrics), with a `for` duration, dedup, inhibition,
escalation and resolved notices to Slack.
"""

# An Airflow DAG file: the DAG processor only parses files mentioning "airflow" and "dag".
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from mercenary_maintenance.alerts import tasks as alerts
from mercenary_maintenance.wiring.dagkit import Tag, maintenance_dag

with maintenance_dag(
    Path(__file__).stem,
    schedule="*/5 * * * *",
    doc_md=__doc__,
    tags=[Tag.ALERTS],
    retries=1,
    dagrun_timeout=timedelta(minutes=4),
):
    alerts.EVALUATE.add()
