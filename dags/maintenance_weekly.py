"""
### Weekly maintenance window (Sundays 02:00–04:00 UTC)

`VACUUM (ANALYZE)` and statistics, long-running queries, Redis `MEMORY PURGE` and
`BGREWRITEAOF`, log rotation/archival and temp cleanup, the weekly restore test, and the
vulnerability scan (OSV advisories, patch SLAs), and `airflow db clean` of Airflow's own
metadata database (when `airflow_db.conn_id` is set).
Runs at the window's start; tasks that would start after window end − cutoff (15 min)
are skipped and recorded; every SQL statement gets `statement_timeout` ≤ time left and
`lock_timeout`. A run still going at the window's end raises a deadline alert.
"""

# An Airflow DAG file: the DAG processor only parses files mentioning "airflow" and "dag".
from __future__ import annotations

from pathlib import Path

from mercenary_maintenance.airflow_db import tasks as airflow_db
from mercenary_maintenance.backups import tasks as backups
from mercenary_maintenance.logs import tasks as logs
from mercenary_maintenance.postgres import tasks as postgres
from mercenary_maintenance.redis import tasks as redis
from mercenary_maintenance.security import tasks as security
from mercenary_maintenance.windows.rules import WEEKLY_WINDOW
from mercenary_maintenance.wiring.dagkit import Tag, maintenance_dag

with maintenance_dag(
    Path(__file__).stem,
    window=WEEKLY_WINDOW,
    doc_md=__doc__,
    tags=[Tag.WEEKLY, Tag.POSTGRES, Tag.REDIS, Tag.BACKUP, Tag.LOGS, Tag.SECURITY],
):
    postgres.WEEKLY_GROUP.add()
    redis.WEEKLY_GROUP.add()
    logs.WEEKLY_GROUP.add()
    backups.WEEKLY_RESTORE_TEST.add()
    security.WEEKLY_GROUP.add()
    airflow_db.WEEKLY_GROUP.add()
