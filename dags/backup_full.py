"""
### Full backups (daily 01:00 UTC)

`pg_dump -Fc -Z0` per PostgreSQL target, compressed with zstd while streaming into an
S3 multipart upload; sha256 and a manifest (row counts, versions) written last.
Retention 30 days with transition to Glacier (S3 lifecycle).
"""

# An Airflow DAG file: the DAG processor only parses files mentioning "airflow" and "dag".
from __future__ import annotations

from pathlib import Path

from mercenary_maintenance.backups import tasks as backups
from mercenary_maintenance.wiring.dagkit import Tag, maintenance_dag

with maintenance_dag(
    Path(__file__).stem,
    schedule="0 1 * * *",
    doc_md=__doc__,
    tags=[Tag.BACKUP, Tag.POSTGRES, Tag.DAILY],
):
    backups.FULL_BACKUP_GROUP.add()
