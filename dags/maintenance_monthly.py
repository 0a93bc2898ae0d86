"""
### Monthly maintenance window (first Sunday, 01:00–05:00 UTC)

Performance review (slow queries, cache hit ratio, unused/invalid indexes, bloat),
`REINDEX INDEX CONCURRENTLY`, opt-in `VACUUM FULL ANALYZE`, security audit (role
review, AWS security-group audit), and the full restore test. Overlaps the weekly window on first Sundays: both
run; heavy work on one target is serialized (pool + per-target lock).
"""

# An Airflow DAG file: the DAG processor only parses files mentioning "airflow" and "dag".
from __future__ import annotations

from pathlib import Path

from mercenary_maintenance.backups import tasks as backups
from mercenary_maintenance.postgres import tasks as postgres
from mercenary_maintenance.reviews import tasks as reviews
from mercenary_maintenance.security import tasks as security
from mercenary_maintenance.windows.rules import MONTHLY_WINDOW
from mercenary_maintenance.wiring.dagkit import Tag, maintenance_dag

with maintenance_dag(
    Path(__file__).stem,
    window=MONTHLY_WINDOW,
    doc_md=__doc__,
    tags=[Tag.MONTHLY, Tag.POSTGRES, Tag.BACKUP, Tag.SECURITY],
):
    postgres.MONTHLY_GROUP.add()
    backups.MONTHLY_RESTORE_TEST.add()
    reviews.MONTHLY_GROUP.add()
    security.MONTHLY_GROUP.add()
