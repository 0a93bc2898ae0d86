"""The DAG-level callbacks every maintenance DAG carries (set by :mod:`mercenary_maintenance.wiring.dagkit`).

* :class:`RunFailureNotifier` — the ``on_failure_callback``: once per failed run (not per
  retry: task retries do not call it), with the first line of the first task error (taken
  from the run's report parts), the failed tasks and a link to the failed task's log.
* :func:`window_overrun` — the ``DeadlineAlert`` callback: a window run still running at
  the window's end.

A callback runs outside any task's ``Step``: :func:`notice_door` is its door (the config loaded
once per callback, the Slack sender bound to its timeouts).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from mercenary_maintenance import delivery
from mercenary_maintenance.config import ConfigError, TimeoutsConfig, load_config
from mercenary_maintenance.notify import failure_summary, format_run_failure, run_link, task_log_link
from mercenary_maintenance.redact import slack_escape
from mercenary_maintenance.report.store import store_for

if TYPE_CHECKING:
    from mercenary_maintenance.config import MaintenanceConfig, TimeoutsConfig

log = logging.getLogger(__name__)
DEFAULT_SLACK_CONN_ID = "maintenance_slack"
DEFAULT_BASE_URL = "http://localhost:8080"


@dataclass(frozen=True)
class NoticeDoor:
    """What a callback needs: the config (None when the file is broken), the Slack connection,
    the UI's base URL, and the timeouts its one post is bounded by."""

    cfg: MaintenanceConfig | None
    conn_id: str
    base_url: str
    timeouts: TimeoutsConfig

    def post(self, text: str) -> None:
        """One attempt (masked); raises :class:`~mercenary_maintenance.delivery.NotDelivered` on failure."""
        delivery.checked(delivery.to_slack(text, conn_id=self.conn_id, timeouts=self.timeouts), "the notice")


def notice_door() -> NoticeDoor:
    """Load the config once for this callback; the defaults when the config itself is broken, so
    that the failure caused by a broken config is still announced (bounded by default timeouts)."""
    try:
        cfg = load_config()
    except ConfigError:
        return NoticeDoor(None, DEFAULT_SLACK_CONN_ID, DEFAULT_BASE_URL, TimeoutsConfig())
    return NoticeDoor(cfg, cfg.alerts.slack_conn_id, cfg.alerts.base_url, cfg.timeouts)


def _run_parts(cfg: MaintenanceConfig | None, dag_id: str, run_id: str) -> list[dict[str, Any]]:

    if cfg is None:
        raise RuntimeError("the config is broken: no report store to read")
    return store_for(cfg).parts(dag_id, run_id)


class RunFailureNotifier(BaseNotifier):
    """Posts one Slack message when a maintenance DAG run fails."""

    template_fields = ()

    def __init__(self) -> None:
        super().__init__()

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing to render (no template fields). BaseNotifier's version asks the context's DAG
        for a Jinja env, and under ``airflow dags test``/``dag.test()`` that DAG is a
        ``SerializedDAG`` without ``get_template_env``: the callback crashed and no notice went out."""
        return

    def notify(self, context: Any) -> None:
        door = notice_door()
        base_url = door.base_url
        dag_run = context["dag_run"]
        failed: list[str] = []
        reason = context.get("reason")
        try:
            failed, error = failure_summary(_run_parts(door.cfg, dag_run.dag_id, dag_run.run_id))
            reason = error or reason
        except Exception:  # the message still goes out without the details
            log.warning("could not read the run's report parts for the failure notice", exc_info=True)
        if not failed:
            try:
                states = context["ti"].get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id])
                failed = sorted(t for t, s in states.get(dag_run.run_id, {}).items()
                                if s in ("failed", "upstream_failed"))
            except Exception:
                log.warning("could not list failed tasks for the failure notice", exc_info=True)
        ti = context.get("ti")
        first = failed[0].split("[")[0] if failed else getattr(ti, "task_id", None)
        link = (task_log_link(base_url, dag_run.dag_id, dag_run.run_id, first) if first
                else run_link(base_url, dag_run.dag_id, dag_run.run_id))
        text = format_run_failure(dag_run.dag_id, dag_run.run_id, reason, failed, link)
        door.post(text)


def overrun_run(context: Any) -> tuple[str, str | None]:
    """(run id, run state) from a DeadlineAlert callback's context.

    The scheduler passes ``{"dag_run": <DAGRunResponse as a JSON dict>, "deadline": …}``: the
    run id is under ``dag_run_id`` (``run_id`` in older shapes), the state is the run's state
    read from the metadata database when the miss was handled.

    >>> overrun_run({"dag_run": {"dag_run_id": "scheduled__x", "state": "running"}})
    ('scheduled__x', 'running')
    >>> overrun_run(None)
    ('', None)
    """
    dag_run = context.get("dag_run") if isinstance(context, dict) else None
    if not isinstance(dag_run, dict):
        return "", None
    run_id = dag_run.get("dag_run_id") or dag_run.get("run_id") or ""
    state = dag_run.get("state")
    return str(run_id), (str(state) if state is not None else None)


async def window_overrun(dag_id: str, window: str, context: Any = None, **_: Any) -> None:
    """DeadlineAlert callback: the window closed and the run is still going.

    Upstream apache/airflow#60927: a deadline fires even when the run already *failed* (only
    success prunes it). A run that is not running any more gets no "still running" alert."""
    door = notice_door()
    base_url = door.base_url
    run_id, state = overrun_run(context)
    if state is not None and state not in ("running", "queued"):
        log.info("deadline of %s run %s passed after the run ended (%s): no overrun alert (apache/airflow#60927)",
                 dag_id, run_id, state)
        return
    text = (f":warning: *{dag_id}* is still running at the end of its maintenance window ({window})"
            + (f": `{slack_escape(run_id)}` <{run_link(base_url, dag_id, run_id)}|open the run>" if run_id else "")
            + ". Remaining tasks past the cutoff will be skipped; running statements end at their statement_timeout.")
    await asyncio.to_thread(door.post, text)
