"""
### Incremental backups (every 4 hours)

PostgreSQL 17+: native incremental physical backups (`pg_basebackup --incremental`),
restorable with `pg_combinebackup`. Below 17 the report says plainly what is done instead.
Retention 7 days.
"""

# An Airflow DAG file: the DAG processor only parses files mentioning "airflow" and "dag".
from __future__ import annotations

from pathlib import Path

from mercenary_maintenance.backups import tasks as backups
from mercenary_maintenance.wiring.dagkit import Tag, maintenance_dag

with maintenance_dag(
    Path(__file__).stem,
    schedule="0 */4 * * *",
    doc_md=__doc__,
    tags=[Tag.BACKUP, Tag.POSTGRES],
):
    backups.INCREMENTAL.add()
