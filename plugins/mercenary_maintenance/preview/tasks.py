"""The task of the ``maintenance_preview`` DAG, declared as data (the areas' probes come from
the registry: the preview never imports another area)."""

from __future__ import annotations

from functools import partial

from mercenary_maintenance.preview.bodies import preview_body
from mercenary_maintenance.wiring import registry
from mercenary_maintenance.wiring.dagkit import TaskSpec

PREVIEW = TaskSpec("preview_windows", partial(preview_body, probes=registry.PROBES))
