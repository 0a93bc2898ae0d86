"""
### Daily maintenance (00:30 UTC)

The plan's daily tasks: system health check (services up, disk and inode usage),
PostgreSQL checks (blocked locks, long transactions, connections, wraparound,
sequences, replication), Redis checks (memory, slow log, persistence, hit ratio),
backup verification (freshness, integrity, capacity) and security monitoring.
Checks only: nothing here changes a server. Report: `<reports.url>/maintenance_daily/<run_id>/`.
"""

# An Airflow DAG file: the DAG processor only parses files mentioning "airflow" and "dag".
from __future__ import annotations

from pathlib import Path

from mercenary_maintenance.backups import tasks as backups
from mercenary_maintenance.health import tasks as health
from mercenary_maintenance.logs import tasks as logs
from mercenary_maintenance.postgres import tasks as postgres
from mercenary_maintenance.redis import tasks as redis
from mercenary_maintenance.wiring.dagkit import Tag, maintenance_dag

with maintenance_dag(
    Path(__file__).stem,
    schedule="30 0 * * *",
    doc_md=__doc__,
    tags=[Tag.DAILY, Tag.POSTGRES, Tag.REDIS, Tag.BACKUP, Tag.SECURITY, Tag.LOGS],
):
    health.DAILY_GROUP.add()
    postgres.DAILY_GROUP.add()
    redis.DAILY_GROUP.add()
    backups.DAILY_VERIFICATION.add()
    logs.DAILY_GROUP.add()
