"""The DAG factory every DAG file uses, so DAG files only wire tasks, and the task factory
every area uses, so areas declare their tasks — and the groups that order them — as data
(:class:`TaskSpec`, :class:`Gate`, :class:`Group`).

:func:`maintenance_dag` fixes what all maintenance DAGs share — owner, retries, tags,
start date, no catch-up, one active run, the Slack failure notifier, the window
timetable and its ``DeadlineAlert`` — and appends ``write_report``, which runs after
everything else even when tasks failed, and fails the run when they did (a DAG whose only task
is declared ``writes_report`` writes the report in that task instead).
"""

from __future__ import annotations

import enum
import functools
import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from airflow.sdk import DAG, Param, TaskGroup, TriggerRule, task
from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference
from airflow.timetables.base import Timetable

from mercenary_maintenance.config import load_config
from mercenary_maintenance.steps import execute_step
from mercenary_maintenance.windows.rules import WindowRule
from mercenary_maintenance.windows.timetable import MaintenanceWindowTimetable
from mercenary_maintenance.wiring.callbacks import RunFailureNotifier, window_overrun

# The modules a task needs only when it runs (the report writer, the alert evaluation, the run guards,
# the approval operator) are imported inside the task functions below: every DAG file imports this
# module each time it is parsed, and parsing never runs a task (docs/architecture.md). The config and
# the steps are imported by the task bodies' modules at parse anyway.

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)
OWNER = "sre"
# Pool for heavy maintenance (VACUUM, REINDEX, dumps, restores). Its slots bound the load
# across targets; each action also takes a per-target lock on the target itself.
HEAVY_POOL = "maintenance_heavy"
# One slot of its own for critical emergency runs, so that "immediate action" never queues behind
# an hours-long dump holding the heavy pool (the per-target lock still serializes work on a target).
CRITICAL_POOL = "maintenance_critical"
# The tasks that act on targets (the heavy and critical pools), per DAG: while one of them runs, its
# DAG run is a maintenance window for alerting (alerts.during_window). A run that merely exists (an
# emergency run waiting out its notice, a window run still checking) is not. tests/dags holds this
# equal to the DAGs' tasks in those pools.
def _grouped(groups: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Task ids ``<group>.<task>`` of task groups."""
    return tuple(f"{group}.{task}" for group, tasks in groups.items() for task in tasks)


ACTING_TASKS: dict[str, tuple[str, ...]] = {
    "maintenance_weekly": _grouped({"postgres": ("vacuum_analyze",), "redis": ("purge_memory", "rewrite_aof"),
                                    "backups": ("restore_test",)}),
    "maintenance_monthly": _grouped({"postgres": ("reindex_indexes", "vacuum_full_tables"),
                                     "backups": ("restore_test", "restore_test_chain")}),
    "maintenance_quarterly": (),
    "emergency_maintenance": ("act", "act_critical"),
}
# Pools the setup step and the pool guard create: name → (slots, description).
POOLS: dict[str, tuple[int, str]] = {
    HEAVY_POOL: (2, "heavy maintenance (VACUUM, REINDEX, dumps, restores); see docs/runbook.md"),
    CRITICAL_POOL: (1, "critical emergency runs only (never queue behind the heavy pool); see docs/runbook.md"),
}


class Tag(enum.StrEnum):
    """The only tags maintenance DAGs may carry (enforced by a policy test)."""

    MAINTENANCE = "maintenance"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    WINDOW = "window"
    POSTGRES = "postgres"
    REDIS = "redis"
    BACKUP = "backup"
    ALERTS = "alerts"
    SECURITY = "security"
    LOGS = "logs"
    EMERGENCY = "emergency"


# Seconds before the first retry (doubling up to 10 min). Tests and the demo shorten it
# through the environment; it is read when the DAG file is parsed (no I/O).
RETRY_DELAY_ENV = "MAINTENANCE_RETRY_DELAY_SECONDS"


# `dag.test()` / `airflow dags test` in Airflow 3.3.2 crash when a run with a DeadlineAlert
# succeeds (DagRun.update_state looks the alert up by id, but dag.test never stored it).
# The test harness and the demo switch deadlines off with this variable; deployments keep them.
DEADLINES_ENV = "MAINTENANCE_DEADLINE_ALERTS"


def deadlines_enabled() -> bool:
    return os.environ.get(DEADLINES_ENV, "on").lower() not in ("off", "0", "false")


# Every task has an execution_timeout (docs/reliability.md). It is fixed at parse time (the config is read
# at run time only): a window DAG's tasks get the window's length (steps.execute_step also ends a
# task at the window's end), the others these per-DAG bounds, overridable per DAG with the
# environment variable below, e.g. MAINTENANCE_TASK_TIMEOUTS='{"backup_full": 43200}' (seconds).
TASK_TIMEOUTS: dict[str, timedelta] = {
    "maintenance_daily": timedelta(minutes=30),
    "backup_full": timedelta(hours=8),  # > timeouts.subprocess.backup_s (6 h) for one pg_dump
    "backup_incremental": timedelta(hours=3),  # runs every 4 h
    "alert_evaluation": timedelta(minutes=3),  # inside its 4-minute dagrun_timeout
    "emergency_maintenance": timedelta(hours=3),  # includes the notice wait (emergency.notice_minutes: 60)
}
DEFAULT_TASK_TIMEOUT = timedelta(hours=1)
TASK_TIMEOUTS_ENV = "MAINTENANCE_TASK_TIMEOUTS"


def task_timeout(dag_id: str, window: WindowRule | None = None) -> timedelta:
    """The ``execution_timeout`` of every task of ``dag_id`` (a task may set a shorter one)."""
    import json

    override = json.loads(os.environ.get(TASK_TIMEOUTS_ENV) or "{}")
    if dag_id in override:
        return timedelta(seconds=float(override[dag_id]))
    if window is not None:
        return window.duration
    return TASK_TIMEOUTS.get(dag_id, DEFAULT_TASK_TIMEOUT)


def default_args(retries: int, execution_timeout: timedelta | None = None) -> dict[str, Any]:
    return {
        "owner": OWNER,
        "retries": retries,
        "execution_timeout": execution_timeout or DEFAULT_TASK_TIMEOUT,
        "retry_delay": timedelta(seconds=float(os.environ.get(RETRY_DELAY_ENV, "60"))),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
    }


@task(task_id="write_report", trigger_rule=TriggerRule.ALL_DONE, retries=2)
def write_report() -> str:
    """Write report.json and report.md for this run; fail if any task failed."""
    from airflow.sdk import get_current_context

    from mercenary_maintenance.alerts.announce import announce_run
    from mercenary_maintenance.report.finalize import finalize

    return finalize(get_current_context(), load_config(), announce=announce_run)


# Task ids of the specs that write their run's report (TaskSpec.writes_report): a DAG whose only
# task is one of them gets no write_report task.
REPORTING_TASKS: set[str] = set()


def _reporting(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work`` and write the run's report whatever happened. A failure is reported as this
    task failed and then raised as it was (the task's retries apply; a retry writes the report again)."""
    import logging

    from airflow.sdk import get_current_context

    from mercenary_maintenance.alerts.announce import announce_run
    from mercenary_maintenance.report.finalize import RunFailed, finalize

    context = get_current_context()
    try:
        result = work()
    except Exception:
        try:
            finalize(context, load_config(), announce=announce_run, own_state="failed")
        except RunFailed:
            pass  # expected: the report says failed, and the original error is what the task raises
        except Exception:
            logging.getLogger(__name__).exception("the failed run's report could not be written")
        raise
    finalize(context, load_config(), announce=announce_run, own_state="success")
    return result


@dataclass(frozen=True)
class TaskSpec:
    """One maintenance task declared as data; :meth:`add` / :meth:`expand` make the Airflow task.

    ``body`` is the area function the task runs under :func:`~mercenary_maintenance.steps.execute_step`:
    ``body(step)``, ``body(step, target)`` when the task is mapped ``over`` the configured targets
    of one kind (read at run time), or ``body(step, value)`` when it ``takes`` an upstream task's
    result (``add(upstream)``). ``heavy`` tasks run in :data:`HEAVY_POOL`, or in ``pool`` when it is
    named. A task that ``returns_result`` pushes its body's return value as its XCom (what the
    downstream task takes) instead of the step's summary. The task's documentation in the UI is
    the first paragraph of the body's docstring (what it checks or does).
    """

    task_id: str
    body: Callable[..., Any]
    over: Literal["postgres", "redis", "hosts"] | None = None
    heavy: bool = False
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS
    retries: int | None = None
    # The DAG's only task, which writes the run's report itself (success or failure) instead of a
    # separate write_report task: one task process per run instead of two, for a DAG that runs
    # every few minutes (alert_evaluation, 288 runs a day).
    writes_report: bool = False
    # The action a mapped task performs on each target, under the run guards (``guards``: freeze,
    # stop_on_alerts, max_errors): a guard that holds a target back records this action skipped and
    # a maintenance.skipped warning naming the guard; the body does not run for that target.
    guarded_action: str | None = None
    pool: str | None = None
    takes: bool = False
    returns_result: bool = False

    @property
    def doc(self) -> str:
        """The first paragraph of the body's docstring (a ``functools.partial`` is looked through)."""
        body = self.body
        while isinstance(body, functools.partial):
            body = body.func
        text = inspect.getdoc(body)
        if not text:
            raise TypeError(f"task {self.task_id}: its body {body.__qualname__} has no docstring")
        return " ".join(text.split("\n\n")[0].split())

    def add(self, *upstream: Any, **overrides: Any) -> Any:
        """Add the (unmapped) task to the DAG being built; a task that ``takes`` an upstream
        result is given it (an XComArg) as its one argument."""
        if self.over is not None:
            raise TypeError(f"{self.task_id} is mapped over {self.over} targets: use expand(targets)")
        if len(upstream) != int(self.takes):
            raise TypeError(f"{self.task_id} takes {int(self.takes)} upstream result(s), given {len(upstream)}")
        made = _airflow_task(self).override(**overrides) if overrides else _airflow_task(self)
        return made(*upstream)

    def expand(self, targets: Any, **overrides: Any) -> Any:
        """Add the task mapped over ``targets`` (the XComArg of :func:`targets`)."""
        if self.over is None:
            raise TypeError(f"{self.task_id} is not mapped over targets: use add()")
        made = _airflow_task(self).override(**overrides) if overrides else _airflow_task(self)
        return made.expand(target=targets)


def _execute(work: Callable[[Any], Any], returns_result: bool = False) -> Any:
    """Run a body under :func:`~mercenary_maintenance.steps.execute_step`; the step's summary, or the
    body's own return value."""
    summary = execute_step(work)
    return summary["result"] if returns_result else summary


@functools.cache
def _airflow_task(spec: TaskSpec) -> Any:
    """The TaskFlow task of a spec (made once; the imports inside run when the task runs)."""
    body, returns_result = spec.body, spec.returns_result
    if spec.over is not None and (spec.writes_report or spec.takes):
        raise TypeError(f"{spec.task_id}: a task mapped over targets neither writes the report nor takes a result")
    if spec.writes_report:
        REPORTING_TASKS.add(spec.task_id)

        def run() -> Any:
            return _reporting(lambda: _execute(body))
    elif spec.takes:
        def run(value: Any) -> Any:  # type: ignore[misc]
            return _execute(lambda step: body(step, value), returns_result)
    elif spec.over is None:
        def run() -> Any:  # type: ignore[misc]
            return _execute(body, returns_result)
    elif spec.guarded_action is None:
        def run(target: str) -> Any:  # type: ignore[misc]
            return _execute(lambda step: body(step, target))
    else:
        kind, action = spec.over, spec.guarded_action

        def run(target: str) -> Any:  # type: ignore[misc]
            from mercenary_maintenance.alerts.evaluation import firing_alerts
            from mercenary_maintenance.guards import run_guarded

            return _execute(lambda step: run_guarded(step, target, kind, action, body, firing=firing_alerts))
    run.__name__ = run.__qualname__ = spec.task_id
    run.__doc__ = spec.doc
    options: dict[str, Any] = {"task_id": spec.task_id, "trigger_rule": spec.trigger_rule}
    if spec.writes_report:  # its summary is in the report it writes; no task reads it: no XCom round trip
        options["do_xcom_push"] = False
    if spec.pool is not None:
        options["pool"] = spec.pool
    elif spec.heavy:
        options["pool"] = HEAVY_POOL
    if spec.retries is not None:
        options["retries"] = spec.retries
    return task(**options)(run)


@dataclass(frozen=True)
class Gate:
    """An approval gate (``approve_<kind>``, see ``approvals.required_for``) as a step of a chain:
    the step after it runs only when the gate succeeded (approved, or no approval required)."""

    kind: str
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS

    def add(self) -> Any:
        return approval_gate(self.kind, trigger_rule=self.trigger_rule)


def approval_gate(kind: str, **kwargs: Any) -> Any:
    """The approvals area's gate task, for declarations that wire it by hand (the emergency DAG)."""
    from mercenary_maintenance.approvals.operator import approval_gate as make

    return make(kind, **kwargs)


Step = TaskSpec | Gate


class Group:
    """A task group declared as data: ``Group("postgres", (CHECK, VACUUM), REINDEX)``.

    Each argument after the id is a step or a chain of steps (a tuple, run in order). A step named
    in several chains is one task; mapped tasks of one target kind share one ``list_<kind>_targets``.
    Steps that share no chain are independent: one failing does not skip the other.
    """

    def __init__(self, group_id: str, *chains: Step | tuple[Step, ...]) -> None:
        self.group_id = group_id
        self.chains = tuple(c if isinstance(c, tuple) else (c,) for c in chains)

    def add(self) -> Any:
        """Add the group to the DAG being built."""
        with TaskGroup(group_id=self.group_id) as group:
            made: dict[Step, Any] = {}
            found: dict[str, Any] = {}

            def make(step: Step) -> Any:
                if step not in made:
                    if isinstance(step, Gate) or step.over is None:
                        made[step] = step.add()
                    else:
                        if step.over not in found:
                            found[step.over] = targets(step.over)
                        made[step] = step.expand(found[step.over])
                return made[step]

            for chain in self.chains:
                previous = None
                for step in chain:
                    current = make(step)
                    if previous is not None:
                        previous >> current
                    previous = current
        return group


def targets(kind: Literal["postgres", "redis", "hosts"]) -> Any:
    """The configured targets of one kind, listed at run time (what mapped tasks expand over)."""
    return list_targets.override(task_id=f"list_{kind}_targets")(kind)


@task
def list_targets(kind: str) -> list[str]:
    """Names of the configured targets of one kind (read at run time, mapped over)."""
    cfg = load_config()
    if kind == "hosts":  # empty targets.hosts: the implicit host "local" (the worker)
        return [h.name for h in cfg.hosts()]
    return [t.name for t in getattr(cfg.targets, kind)]


def window_deadline(dag_id: str, rule: WindowRule) -> DeadlineAlert:
    """Fires when a scheduled window run is still running at the window's end."""
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,  # = window start for window runs
        interval=rule.duration,
        callback=AsyncCallback(window_overrun, kwargs={"dag_id": dag_id, "window": rule.summary()}),
        name="window_overrun",
    )


@contextmanager
def maintenance_dag(
    dag_id: str,
    *,
    doc_md: str | None,
    tags: list[Tag],
    schedule: str | Timetable | None = None,
    window: WindowRule | None = None,
    retries: int = 2,
    params: dict[str, Param] | None = None,
    dagrun_timeout: timedelta | None = None,
    max_active_runs: int = 1,
    **extra: Any,
) -> Iterator[DAG]:
    if window is not None and schedule is not None:
        raise ValueError("give a schedule or a window, not both")
    all_tags = {Tag.MAINTENANCE.value, *(t.value for t in tags)}
    if window is not None:
        all_tags.add(Tag.WINDOW.value)
    with DAG(
        dag_id=dag_id,
        schedule=MaintenanceWindowTimetable.from_rule(window) if window else schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=max_active_runs,
        default_args=default_args(retries, task_timeout(dag_id, window)),
        tags=sorted(all_tags),
        doc_md=doc_md,
        params=params or {},
        owner_links={OWNER: "https://github.com/mercenary/maintenance/blob/main/docs/runbook.md"},
        on_failure_callback=RunFailureNotifier(),
        deadline=window_deadline(dag_id, window) if window and deadlines_enabled() else None,
        dagrun_timeout=dagrun_timeout,
        **extra,
    ) as dag:
        yield dag
        reporting = [t.task_id for t in dag.tasks if t.task_id in REPORTING_TASKS]
        if reporting:
            if len(dag.tasks) != 1:
                raise ValueError(f"{dag_id}: {reporting[0]} writes the run's report, so it must be the DAG's only task")
            return
        leaves = [t for t in dag.tasks if not t.downstream_list]
        report = write_report()
        for leaf in leaves:
            leaf >> report
