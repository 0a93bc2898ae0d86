"""Run guards across a run's mapped targets (``guards``): change freezes, stop on firing alerts,
stop after too many failed targets — what AWS Systems Manager maintenance windows and Rundeck give
operators, for the heavy actions of the window DAGs.

Before a guarded task (a :class:`~mercenary_maintenance.wiring.dagkit.TaskSpec` with ``guarded_action``)
acts on a target, :func:`run_guarded` asks, in this order:

* ``freeze``: is the run's window (or now) inside a change-freeze period?
* ``stop_on_alerts``: is an alert of one of these incident levels firing on the target or its host?
* ``max_errors``: have this many targets of the run failed already?

The first guard that holds the target back is recorded: the action ``skipped`` (planned-vs-done
shows why) and a ``maintenance.skipped`` warning naming the guard; the task body does not run.
The emergency DAG applies the freeze through its approval (critical runs act, marked for post-hoc
review): see :func:`mercenary_maintenance.emergency.request.approval_reason`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.findings import Action, ActionStatus
from mercenary_maintenance.redact import first_line
from mercenary_maintenance.report.store import store_for
from mercenary_maintenance.skips import skipped_finding
from mercenary_maintenance.steps import audit
from mercenary_maintenance.windows.rules import UTC

if TYPE_CHECKING:
    from mercenary_maintenance.config import FreezePeriod, MaintenanceConfig
    from mercenary_maintenance.runinfo import RunInfo
    from mercenary_maintenance.steps import Step

GUARDS = ("freeze", "stop_on_alerts", "max_errors")


@dataclass(frozen=True)
class FiringAlert:
    """An alert firing now, as the alert state holds it: what, where, and its incident level."""

    check: str
    target: str
    level: str  # P1 … P4


@dataclass(frozen=True)
class Hold:
    """A guard holding a target back: which guard, why (the message), and its figures."""

    guard: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def freeze_at(periods: Iterable[FreezePeriod], now: datetime, until: datetime | None = None) -> FreezePeriod | None:
    """The freeze period covering ``now`` (or overlapping ``[now, until)`` when given).

    >>> from mercenary_maintenance.config import FreezePeriod
    >>> from datetime import UTC
    >>> p = FreezePeriod(start=datetime(2026, 12, 20, tzinfo=UTC), end=datetime(2027, 1, 4, tzinfo=UTC), reason="eoy")
    >>> freeze_at([p], datetime(2026, 12, 24, tzinfo=UTC)).reason, freeze_at([p], datetime(2027, 1, 4, tzinfo=UTC))
    ('eoy', None)
    >>> freeze_at([p], datetime(2026, 12, 19, 23, tzinfo=UTC), until=datetime(2026, 12, 20, 2, tzinfo=UTC)).reason
    'eoy'
    """
    for period in periods:
        if until is None:
            if period.start <= now < period.end:
                return period
        elif period.start < until and now < period.end:
            return period
    return None


def error_limit(max_errors: int | str | None, total: int) -> int | None:
    """Failed targets at which a run stops acting: a count, or a percentage of ``total`` rounded up.

    >>> error_limit(1, 5), error_limit("25%", 5), error_limit("25%", 4), error_limit("10%", 3), error_limit(None, 5)
    (1, 2, 1, 1, None)
    """
    if max_errors is None:
        return None
    if isinstance(max_errors, str):
        return max(1, math.ceil(total * float(max_errors.rstrip("%")) / 100))
    return int(max_errors)


def alerts_on(target: str, hosts: Sequence[str], firing: Iterable[FiringAlert], levels: Sequence[str]
              ) -> list[FiringAlert]:
    """Firing alerts of ``levels`` on the target itself, one of its services (``target:…``) or its hosts.

    >>> a = [FiringAlert("down", "main", "P1"), FiringAlert("cpu", "db1:9100", "P2"),
    ...      FiringAlert("cpu", "web1", "P3"), FiringAlert("down", "cache", "P1")]
    >>> [x.target for x in alerts_on("main", ["db1"], a, ["P1", "P2"])]
    ['main', 'db1:9100']
    """
    names = [target, *hosts]
    return [a for a in firing if a.level in levels
            and any(a.target == n or a.target.startswith(f"{n}:") for n in names)]


def failed_targets(parts: Iterable[dict[str, Any]]) -> set[str]:
    """Targets a run has failed on so far: a failed action, or a check that could not run.

    >>> sorted(failed_targets([{"actions": [{"target": "a", "status": "failed"}, {"target": "b", "status": "done"}],
    ...                  "findings": [{"target": "c", "severity": "unknown"}], "error": "x"},
    ...                 {"actions": [], "findings": [{"target": "d", "severity": "unknown"}], "error": None}]))
    ['a', 'c']
    """
    out: set[str] = set()
    for part in parts:
        out.update(str(a["target"]) for a in part.get("actions") or [] if a.get("status") == "failed")
        if part.get("error"):
            out.update(str(f["target"]) for f in part.get("findings") or [] if f.get("severity") == "unknown")
    return out


def _hosts_of(cfg: MaintenanceConfig, kind: str, target: str) -> list[str]:
    """The host(s) a target runs on, when the config says (a ``host`` key on the target)."""
    for t in getattr(cfg.targets, kind, []):
        if t.name == target:
            host = getattr(t, "host", None)
            return [str(host)] if host else []
    return []


def check(cfg: MaintenanceConfig, run: RunInfo, kind: str, target: str, *, now: datetime,
          firing: Callable[[], list[FiringAlert]], parts: Callable[[], list[dict[str, Any]]]) -> Hold | None:
    """The first guard that holds ``target`` back in this run, or None (lazy: the alert state and
    the run's report parts are read only when their guard is configured)."""
    g = cfg.guards
    until = run.window.end if run.window is not None else None
    frozen = freeze_at(g.freeze, run.window.start if run.window is not None else now, until)
    if frozen is not None:
        return Hold("freeze", f"change freeze {frozen.start.isoformat()} – {frozen.end.isoformat()}"
                              + (f" ({frozen.reason})" if frozen.reason else "") + ": no heavy action",
                    {"start": frozen.start.isoformat(), "end": frozen.end.isoformat(), "reason": frozen.reason})
    if g.stop_on_alerts:
        found = alerts_on(target, _hosts_of(cfg, kind, target), firing(), g.stop_on_alerts)
        if found:
            names = ", ".join(f"{a.level} {a.check} on {a.target}" for a in found)
            return Hold("stop_on_alerts", f"firing alert(s) {names} (guards.stop_on_alerts {list(g.stop_on_alerts)})",
                        {"alerts": [a.__dict__ for a in found]})
    total = len(getattr(cfg.targets, kind, []))
    limit = error_limit(g.max_errors, total)
    if limit is not None:
        failed = failed_targets(parts())
        if len(failed) >= limit:
            return Hold("max_errors", f"{len(failed)} target(s) failed in this run ({', '.join(sorted(failed))}); "
                                      f"guards.max_errors {g.max_errors} reached: acting on no further target",
                        {"failed_targets": sorted(failed), "limit": limit, "max_errors": g.max_errors})
    return None


def record_hold(step: Step, action: str, target: str, hold: Hold) -> None:
    """The held-back action (skipped) and its ``maintenance.skipped`` warning naming the guard."""

    message = f"guard {hold.guard}: {hold.message}"
    step.actions.append(Action(action, target, ActionStatus.SKIPPED, message, details={"guard": hold.guard,
                                                                                        **hold.details}))
    step.add(skipped_finding(action, target, "guard", message, guard=hold.guard, **hold.details))


def run_guarded(step: Step, target: str, kind: str, action: str, body: Callable[[Step, str], Any], *,
                firing: Callable[[MaintenanceConfig], list[FiringAlert]],
                parts: Callable[[Step], list[dict[str, Any]]] | None = None,
                now: Callable[[], datetime] | None = None) -> Any:
    """Run ``body(step, target)`` unless a run guard holds the target back (then record why)."""

    read_parts = parts or _run_parts
    hold = check(step.cfg, step.run, kind, target, now=(now or (lambda: datetime.now(UTC)))(),
                 firing=lambda: firing(step.cfg), parts=lambda: read_parts(step))
    if hold is not None:

        audit("maintenance.guard", guard=hold.guard, action=action, target=target, message=hold.message)
        record_hold(step, action, target, hold)
        return None
    try:
        return body(step, target)
    except Exception as exc:
        # The target failed: say so by name, so max_errors counts it in later tasks of the run.
        if not any(a.target == target and a.status is ActionStatus.FAILED for a in step.actions):
            step.actions.append(Action(action, target, ActionStatus.FAILED, first_line(exc)))
        raise


def _run_parts(step: Step) -> list[dict[str, Any]]:

    return store_for(step.cfg).parts(step.run.dag_id, step.run.run_id)

