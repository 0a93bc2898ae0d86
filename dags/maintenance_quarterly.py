"""
### Quarterly maintenance window (first Saturday of Jan/Apr/Jul/Oct, 00:00–06:00 UTC)

The plan's "first weekend of each quarter": the quarterly access and capacity review.
"""

# An Airflow DAG file: the DAG processor only parses files mentioning "airflow" and "dag".
from __future__ import annotations

from pathlib import Path

from mercenary_maintenance.reviews import tasks as reviews
from mercenary_maintenance.windows.rules import QUARTERLY_WINDOW
from mercenary_maintenance.wiring.dagkit import Tag, maintenance_dag

with maintenance_dag(
    Path(__file__).stem,
    window=QUARTERLY_WINDOW,
    doc_md=__doc__,
    tags=[Tag.QUARTERLY, Tag.SECURITY],
):
    reviews.QUARTERLY_GROUP.add()
