"""The task of the ``maintenance_preview`` DAG, declared as data."""

from __future__ import annotations

from mercenary_maintenance.dagkit import TaskSpec
from mercenary_maintenance.preview.run import preview_body

PREVIEW = TaskSpec("preview_windows", preview_body)


def build() -> None:
    PREVIEW.add()
