"""Service probes of every ``alert_evaluation`` run (``alerts.probe_services``).

The probes themselves belong to the areas that know each target kind (PostgreSQL connect +
``SELECT 1``, Redis ``PING``, HTTP ``GET``); they reach this module from the registry as a
mapping *kind → ServiceProbe* (:data:`mercenary_maintenance.wiring.service_probes.SERVICE_PROBES`), so a new
kind of target (hosts) is one more entry there. Each probe is bounded by the ``timeouts`` of its
client; all probes of one run go in parallel and the run waits for them at most
``alerts.probe_budget_seconds`` — a probe still running then is ``unknown``, never ``ok``.

The findings are ``services.status`` per target (``<kind>:<name>``); the state machine turns
``alerts.outage_after_failures`` consecutive failures into a critical P1 alert.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mercenary_maintenance.config import MaintenanceConfig
from mercenary_maintenance.findings import Finding, Severity

CHECK = "services.status"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceProbe:
    """The targets of one kind in the config, and the probe of one of them (a ``services.status`` finding)."""

    targets: Callable[[MaintenanceConfig], Sequence[Any]]
    probe: Callable[[MaintenanceConfig, Any], Finding]


def _unfinished(kind: str, name: str, budget_s: float) -> Finding:
    return Finding(CHECK, f"{kind}:{name}", Severity.UNKNOWN,
                   f"{kind} target {name!r}: the probe did not end within alerts.probe_budget_seconds ({budget_s:g} s)",
                   details={"kind": kind})


def _crashed(kind: str, name: str, exc: BaseException) -> Finding:
    return Finding(CHECK, f"{kind}:{name}", Severity.UNKNOWN, f"{kind} target {name!r}: the probe failed: {exc}",
                   details={"kind": kind})


def start(cfg: MaintenanceConfig, probes: Mapping[str, ServiceProbe]) -> Callable[[], list[Finding]]:
    """Start every configured target's probe in parallel; the returned function collects them,
    waiting until ``alerts.probe_budget_seconds`` after the start at most (the caller measures
    its metrics meanwhile: the probes' wall time overlaps it)."""
    jobs: list[tuple[str, str, Callable[[], Finding]]] = []
    for kind, probe in probes.items():
        for target in probe.targets(cfg):
            jobs.append((kind, target.name, functools.partial(probe.probe, cfg, target)))
    if not jobs:
        return list
    budget = cfg.alerts.probe_budget_seconds
    deadline = time.monotonic() + budget
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(jobs)), thread_name_prefix="probe")
    futures = [pool.submit(fn) for _, _, fn in jobs]

    def collect() -> list[Finding]:
        try:
            concurrent.futures.wait(futures, timeout=max(0.0, deadline - time.monotonic()))
            return [_result(kind, name, future, budget) for (kind, name, _), future in zip(jobs, futures, strict=True)]
        finally:
            # A probe past the budget is left to its own client bounds; the run does not wait for it.
            pool.shutdown(wait=False, cancel_futures=True)

    return collect


def probe_all(cfg: MaintenanceConfig, probes: Mapping[str, ServiceProbe]) -> list[Finding]:
    """Every configured target of every kind, in parallel, within ``alerts.probe_budget_seconds``."""
    return start(cfg, probes)()


def _result(kind: str, name: str, future: concurrent.futures.Future[Finding], budget: float) -> Finding:
    if not future.done():
        return _unfinished(kind, name, budget)
    exc = future.exception()
    if exc is not None:
        log.warning("probe of %s:%s raised", kind, name, exc_info=exc)
        return _crashed(kind, name, exc)
    return future.result()


def failing_http(findings: Iterable[Finding]) -> list[str]:
    """HTTP targets whose probe fails now (the application is down: its metrics' silence is the outage).

    >>> failing_http([Finding(CHECK, "http:api", Severity.CRITICAL, "down"), Finding(CHECK, "postgres:main",
    ...               Severity.CRITICAL, "down"), Finding(CHECK, "http:web", Severity.OK, "up")])
    ['http:api']
    """
    return [f.target for f in findings
            if f.check == CHECK and f.target.startswith("http:") and f.severity is Severity.CRITICAL]
