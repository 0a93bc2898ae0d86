"""Nothing is skipped silently: a heavy action that did not run for a lock, a busy target, a busy
server (load guard), a passed window cutoff or a run guard (freeze, firing alert, max errors)
becomes a ``warning`` finding.

The finding names the action, the blocker (pid, application, state, query) where one is known
and the time waited, so the run's status is at least ``warning`` and the Slack summary lists it
whatever ``alerts.notify_findings`` says (see :data:`ALWAYS_NOTIFY`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.runinfo import RunInfo

SKIPPED = "maintenance.skipped"
PG_LOAD_GUARD = "postgres.load_guard"
REDIS_LOAD_GUARD = "redis.load_guard"
# Checks whose non-ok findings are always in the run's Slack summary: maintenance that did not happen.
ALWAYS_NOTIFY = frozenset({SKIPPED, PG_LOAD_GUARD, REDIS_LOAD_GUARD})
CAUSES = ("lock", "target_busy", "cutoff", "load", "fit", "standby", "guard")


def skipped_finding(
    action: str,
    target: str,
    cause: str,
    message: str,
    *,
    waited_s: float | None = None,
    blocker: dict[str, Any] | None = None,
    check: str = SKIPPED,
    **details: Any,
) -> Finding:
    """A ``warning`` finding for a heavy action that was skipped.

    >>> f = skipped_finding("postgres.vacuum_full", "main", "lock", "gave up", waited_s=5.0, blocker={"pid": 7})
    >>> f.severity.label, f.message, f.value, f.details["blocker"]["pid"]
    ('warning', 'postgres.vacuum_full skipped (lock): gave up', 5.0, 7)
    """
    if cause not in CAUSES:
        raise ValueError(f"cause must be one of {CAUSES}, not {cause!r}")
    data: dict[str, Any] = {"action": action, "cause": cause, "waited_s": waited_s, **details}
    if blocker is not None:
        data["blocker"] = blocker
    return Finding(check=check, target=target, severity=Severity.WARNING,
                   message=f"{action} skipped ({cause}): {message}",
                   value=None if waited_s is None else round(waited_s, 3), details=data)


class Recorder(Protocol):
    """What a load guard's verdict needs of an action being recorded (``steps.ActionRecorder``)."""

    name: str
    target: str
    details: dict[str, Any]

    def skipped(self, reason: str, **details: Any) -> None: ...


class GuardedStep(Protocol):
    """What the load guards need of a task's ``steps.Step`` (typed here so that this module, which
    ``steps`` uses, does not import it back)."""

    run: RunInfo
    load_guard_override: str | None

    def add(self, result: Finding) -> None: ...


@dataclass
class GuardResult:
    ok: bool
    waited_s: float
    figures: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    overridden: str | None = None

    def details(self) -> dict[str, Any]:
        return {"load_guard": {"waited_s": round(self.waited_s, 3), "figures": self.figures,
                               "problems": self.problems, "overridden": self.overridden}}


def apply_guard(step: GuardedStep, act: Recorder, result: GuardResult,
                finding: Callable[[GuardResult, str, str], Finding]) -> bool:
    """Record a load guard's verdict on an action: True to go ahead; a busy target is recorded
    skipped plus the area's warning ``finding`` (an override is recorded as a warning too)."""
    act.details.update(result.details())
    if result.overridden:
        step.add(finding(result, act.name, act.target))
    if result.ok:
        return True
    act.skipped(f"load guard: {'; '.join(result.problems)} (waited {result.waited_s:.0f} s)",
                waited_s=round(result.waited_s, 3))
    step.add(finding(result, act.name, act.target))
    return False


def wait_until_quiet(step: GuardedStep, sample: Callable[[], tuple[dict[str, Any], list[str]]], *, wait_s: float,
                     recheck_s: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> GuardResult:
    """The load guards' loop: ``sample()`` (figures, problems) until it finds no problem, the run
    overrides the guard (``Step.load_guard_override``, recorded), or waiting ``recheck_s`` more would
    pass ``wait_s`` — never past the run's remaining time (the window)."""
    budget = min(wait_s, step.run.statement_timeout(wait_s))
    started = clock()
    while True:
        figures, problems = sample()
        waited = clock() - started
        if not problems:
            return GuardResult(True, waited, figures)
        if step.load_guard_override:
            return GuardResult(True, waited, figures, problems, overridden=step.load_guard_override)
        if waited + recheck_s > budget:
            return GuardResult(False, waited, figures, problems)
        sleep(recheck_s)


def overridden_finding(check: str, result: GuardResult, action: str, target: str, value: Any) -> Finding:
    """The ``warning`` an overridden load guard leaves: the action ran over these problems."""
    return Finding(check, target, Severity.WARNING,
                   f"{action} ran over the load guard ({'; '.join(result.problems)}): overridden by "
                   f"{result.overridden}", value=value,
                   details={"action": action, "overridden": result.overridden, "figures": result.figures})
