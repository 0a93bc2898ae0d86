"""The task of the ``maintenance_preview`` DAG, declared as data (the areas' probes come from
the registry: the preview never imports another area)."""

from __future__ import annotations

from functools import partial

from mercenary_maintenance import registry
from mercenary_maintenance.dagkit import TaskSpec
from mercenary_maintenance.preview.bodies import preview_body

PREVIEW = TaskSpec("preview_windows", partial(preview_body, probes=registry.PROBES))
