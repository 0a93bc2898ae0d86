"""The task of the ``maintenance_preview`` DAG, declared as data."""

from __future__ import annotations

from mercenary_maintenance.dagkit import TaskSpec
from mercenary_maintenance.preview.run import preview_body

PREVIEW = TaskSpec("preview_windows", preview_body,
                   doc="Read-only: what the coming window(s) will do on each target, with estimates, risk and "
                       "rollback.")


def build() -> None:
    PREVIEW.add()
