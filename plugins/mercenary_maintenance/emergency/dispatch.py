"""Dispatch an emergency request to the SAME functions the scheduled DAGs call.

The routes are the typed registry (:mod:`mercenary_maintenance.wiring.registry`), handed in by the
emergency task declarations: nothing is resolved by name at run time, and this area imports no
other. The function records its findings and actions into the step, under its area's safety
rules (lock attempts, load guard, statement_timeout, per-target lock, identifiers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from mercenary_maintenance.emergency.request import CHECK_SET, EmergencyRequest
from mercenary_maintenance.steps import Step


class Route(Protocol):
    @property
    def run(self) -> Any: ...
    @property
    def takes_objects(self) -> bool: ...
    @property
    def changes(self) -> bool: ...


def route_for(request: EmergencyRequest, actions: Mapping[str, Route], check_sets: Mapping[str, Route]) -> Route:
    if request.action == CHECK_SET and request.check_set:
        return check_sets[request.check_set]
    return actions[request.action]


def execute(step: Step, request: EmergencyRequest, actions: Mapping[str, Route],
            check_sets: Mapping[str, Route]) -> None:
    """Run the requested action (or check set) on its target, recording into ``step``."""
    route = route_for(request, actions, check_sets)
    kwargs: dict[str, Any] = {}
    if route.takes_objects:
        kwargs["objects"] = list(request.objects) or None
    if route.changes:
        kwargs["dry_run"] = request.dry_run
    if request.ignore_load_guard and request.critical:
        step.load_guard_override = f"emergency critical request {request.ticket} ({request.reason})"
    route.run(step, request.target, **kwargs)
