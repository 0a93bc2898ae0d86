"""The body of every maintenance task: config, window guard, results, audit lines.

A task calls :func:`execute_step` with a function of a :class:`Step`. The step

* loads the config at run time (an invalid file fails the task, naming the key),
* skips the task — recorded, not started — when a scheduled window run is past its cutoff,
* runs checks (``step.check``: an exception becomes an ``unknown`` finding) and actions
  (``with step.action(...)``: one structured log line for the intent, one for the outcome),
* stores the task's findings and actions as a report part (even when it fails), and
* fails the task when a check errored or an action failed, after recording them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.clients import Clients, Clock
from mercenary_maintenance.config import MaintenanceConfig, load_config
from mercenary_maintenance.deadlines import alarm
from mercenary_maintenance.findings import Action, ActionStatus, Finding, Severity, unknown
from mercenary_maintenance.hosts import Transport, transport_for
from mercenary_maintenance.redact import first_line, register_config
from mercenary_maintenance.report.store import store_for
from mercenary_maintenance.runinfo import RunInfo, from_context
from mercenary_maintenance.runner import mask
from mercenary_maintenance.skips import skipped_finding
from mercenary_maintenance.windows.rules import UTC

if TYPE_CHECKING:
    from mercenary_maintenance.clients import Clients, Clock

log = logging.getLogger("mercenary_maintenance.audit")


class StepFailed(RuntimeError):
    """Raised after recording, when a check errored or an action failed."""


class ReportStoreError(RuntimeError):
    """The task's report part could not be stored: the task fails loudly; the part's content
    (its actions and findings) is in the task log, so nothing that was done is lost."""


def audit(event: str, **fields: Any) -> None:
    """One structured audit line in the task log (secrets masked)."""
    log.info("%s %s", event, mask(json.dumps(fields, default=str, sort_keys=True)))


@dataclass
class ActionRecorder:
    name: str
    target: str
    status: ActionStatus = ActionStatus.DONE
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def done(self, message: str, **details: Any) -> None:
        self.status, self.message = ActionStatus.DONE, message
        self.details.update(details)

    def skipped(self, reason: str, **details: Any) -> None:
        self.status, self.message = ActionStatus.SKIPPED, reason
        self.details.update(details)

    def dry_run(self, message: str, **details: Any) -> None:
        self.status, self.message = ActionStatus.DRY_RUN, message
        self.details.update(details)

    def failed(self, message: str, **details: Any) -> None:
        self.status, self.message = ActionStatus.FAILED, message
        self.details.update(details)


@dataclass
class Step:
    cfg: MaintenanceConfig
    run: RunInfo
    findings: list[Finding] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Report sections (reviews): {"title", "markdown", "data"}; rendered after the actions.
    sections: list[dict[str, Any]] = field(default_factory=list)
    # Set by an emergency critical request that overrides the load guard (recorded in the report).
    load_guard_override: str | None = None
    # Optional report keys (docs/report.md: "plan", "approvals", …): lists concatenated over the run's parts.
    report_keys: dict[str, list[Any]] = field(default_factory=dict)
    # How a host's transport is made (tests inject their own); one transport per host and task.
    host_transports: Callable[[MaintenanceConfig, str], Transport] = transport_for
    _hosts: dict[str, Transport] = field(default_factory=dict)
    # The task instance's Execution API client (what a body may ask Airflow: other runs' states);
    # None outside a task. Set from the context by :func:`execute_step`: no body asks for the context.
    ti: Any = None
    # Client factories bound to cfg.timeouts, and the clock: tests pass fakes (Step(cfg, run, clients=…)).
    clients: Clients = None  # type: ignore[assignment]  # set from cfg in __post_init__ when not given
    clock: Clock = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.clients is None:
            self.clients = Clients(self.cfg.timeouts)
        if self.clock is None:
            self.clock = Clock()

    def host(self, name: str) -> Transport:
        """The transport of host ``name`` (targets.hosts, or the implicit ``local``), kept for the
        task; :func:`execute_step` closes it."""
        if name not in self._hosts:
            self._hosts[name] = self.host_transports(self.cfg, name)
        return self._hosts[name]

    def close_hosts(self) -> None:
        for transport in self._hosts.values():
            with suppress(Exception):
                transport.close()
        self._hosts.clear()

    def section(self, title: str, markdown: str, data: dict[str, Any] | None = None) -> None:
        """Add a titled markdown section to the run's report (``data`` goes into report.json)."""
        self.sections.append({"title": title, "markdown": markdown, "data": data or {}})

    def add(self, result: Finding | Action | Iterable[Finding | Action] | None) -> None:
        if result is None:
            return
        items = [result] if isinstance(result, (Finding, Action)) else list(result)
        for item in items:
            if isinstance(item, Finding):
                self.findings.append(item)
            elif isinstance(item, Action):
                self.actions.append(item)
            else:
                raise TypeError(f"a step yields Finding or Action, not {type(item).__name__}")

    def check(self, name: str, target: str, fn: Callable[[], Finding | Iterable[Finding] | None]) -> None:
        """Run one check; an exception becomes an ``unknown`` finding and fails the task at the end."""
        try:
            self.add(fn())
        except Exception as exc:
            log.exception("check %s on %s could not run", name, target)
            finding = unknown(name, target, mask(str(exc)) if str(exc) else exc)
            finding.details["error"] = type(exc).__name__
            self.findings.append(finding)
            self.errors.append(f"{name} on {target}: {finding.message}")

    @contextmanager
    def action(self, name: str, target: str, why: str, **intent: Any) -> Iterator[ActionRecorder]:
        """Record one maintenance action; an exception inside marks it failed (and is not re-raised)."""
        recorder = ActionRecorder(name, target)
        audit("maintenance.intent", action=name, target=target, why=why, dag_id=self.run.dag_id,
              run_id=self.run.run_id, **intent)
        started = time.monotonic()
        started_at = _now()  # wall-clock bounds in the report: overlap of heavy actions is checkable
        try:
            yield recorder
        except Exception as exc:
            log.exception("action %s on %s failed", name, target)
            recorder.failed(first_line(exc))
        duration = time.monotonic() - started
        if not recorder.message:
            recorder.message = recorder.status.value
        details = {**recorder.details, "started_at": started_at, "finished_at": _now()}
        self.actions.append(Action(action=name, target=target, status=recorder.status, message=recorder.message,
                                   duration_s=duration, details=details))
        audit("maintenance.outcome", action=name, target=target, status=recorder.status.value,
              message=recorder.message, duration_s=round(duration, 3))

    def statement_timeout_s(self) -> float:
        return self.run.statement_timeout(self.cfg.postgres.statement_timeout_seconds)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _part(run: RunInfo, started: str, step: Step | None, error: str | None, skipped: str | None) -> dict[str, Any]:
    return {
        "task_id": run.task_id,
        "map_index": run.map_index,
        "try_number": run.try_number,
        "started_at": started,
        "finished_at": _now(),
        "findings": [f.to_dict() for f in (step.findings if step else [])],
        "actions": [a.to_dict() for a in (step.actions if step else [])],
        "sections": list(step.sections) if step else [],
        "report_keys": dict(step.report_keys) if step else {},
        "error": error,
        "skipped": skipped,
    }


def _store_part(cfg: MaintenanceConfig | None, run: RunInfo, part: dict[str, Any]) -> None:

    if cfg is None:  # the config itself is broken: the part cannot be stored anywhere
        return
    try:
        store_for(cfg).put_part(run.dag_id, run.run_id, run.part_name, part)
    except Exception as exc:
        log.error("report part %s of %s/%s could not be stored in %s; its content, so that nothing done is lost: %s",
                  run.part_name, run.dag_id, run.run_id, cfg.reports.url,
                  mask(json.dumps(part, default=str, sort_keys=True)))
        raise ReportStoreError(
            f"report store {cfg.reports.url} unavailable ({type(exc).__name__}: {mask(str(exc))}); "
            "the task's actions and findings are in its log (maintenance.outcome, report part)") from exc


def store_step(step: Step, started: str, error: str | None = None) -> None:
    """Store a step as the task's report part, for tasks that do not run their body under
    :func:`execute_step` (an approval resumed after the window's cutoff must still be recorded)."""
    _store_part(step.cfg, step.run, _part(step.run, started, step, error, None))


def execute_step(
    body: Callable[[Step], Any],
    *,
    context: Any = None,
    cfg: MaintenanceConfig | None = None,
) -> dict[str, Any]:
    """Run a task body under the window guard and record its findings and actions.

    The body records into the step (or returns findings/actions, which are added); a plain
    value it returns (a dict, a string, a number) comes back as ``result`` beside the summary.
    """
    if context is None:
        from airflow.sdk import get_current_context

        context = get_current_context()
    started = _now()
    if cfg is None:
        cfg = load_config()  # ConfigError names the key; nothing has run yet
    # The secrets of every connection the config names are masked before any work is done.
    register_config(cfg)
    run = from_context(context, cfg.windows.cutoff_minutes.get(context["dag_run"].dag_id))
    if run.past_cutoff():
        assert run.window is not None
        cutoff_at = run.window.end - run.cutoff
        reason = (f"not started: past the window cutoff {cutoff_at.isoformat()} "
                  f"(window ends {run.window.end.isoformat()})")
        step = Step(cfg, run)
        step.actions.append(Action("window.cutoff", run.task_id, ActionStatus.SKIPPED, reason))

        label = run.task_id + (f"[{run.map_index}]" if run.map_index >= 0 else "")
        step.findings.append(skipped_finding(run.task_id, label, "cutoff", reason,
                                             cutoff_at=cutoff_at.isoformat(), window_end=run.window.end.isoformat()))
        _store_part(cfg, run, _part(run, started, step, None, reason))
        audit("maintenance.skipped", task=run.task_id, reason=reason)
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(reason)
    step = Step(cfg, run, ti=context.get("ti"))

    result: Any = None
    try:
        # execution_timeout is the window's whole length (set at parse time); this ends a task
        # that started late at the window's end, wherever it is waiting.
        with alarm(run.seconds_left(), f"{run.task_id} in {run.dag_id}"):
            out = body(step)
            if isinstance(out, (dict, str, int, float)):
                result = out
            else:
                step.add(out)
    except BaseException as exc:  # also WindowClosed and Airflow's execution timeout: record, then fail
        step.close_hosts()
        message = f"{type(exc).__name__}: {mask(str(exc))}"
        # The body's own error is the one to raise; a store failure is logged with the part.
        with suppress(ReportStoreError):
            _store_part(cfg, run, _part(run, started, step, message, None))
        raise
    step.close_hosts()
    failed = [f"{a.action} on {a.target}: {a.message}" for a in step.actions if a.status is ActionStatus.FAILED]
    problems = step.errors + failed
    _store_part(cfg, run, _part(run, started, step, "; ".join(problems) or None, None))
    if problems:
        raise StepFailed("; ".join(problems))
    return {
        "findings": len(step.findings),
        "actions": len(step.actions),
        "worst": max((f.severity for f in step.findings), default=Severity.OK).label,
        "result": result,
    }
