"""Slack notifications through the slack provider's webhook hook on ``alerts.slack_conn_id``.

* :class:`RunFailureNotifier` — the DAG-level ``on_failure_callback``: once per failed run
  (not per retry: task retries do not call it), with the first line of the first task
  error (taken from the run's report parts), the failed tasks and a link to the failed
  task's log.
* :func:`window_overrun` — the ``DeadlineAlert`` callback: a window run still running at
  the window's end.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

from mercenary_maintenance.redact import first_line, slack_escape
from mercenary_maintenance.runner import mask

log = logging.getLogger(__name__)
DEFAULT_SLACK_CONN_ID = "maintenance_slack"


def slack_settings() -> tuple[str, str]:
    """(conn id, UI base URL) from the config; the defaults when the config itself is broken,
    so that the failure caused by a broken config is still announced."""
    from mercenary_maintenance.config import ConfigError, load_config

    try:
        cfg = load_config()
    except ConfigError:
        return DEFAULT_SLACK_CONN_ID, "http://localhost:8080"
    return cfg.alerts.slack_conn_id, cfg.alerts.base_url


def run_link(base_url: str, dag_id: str, run_id: str) -> str:
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}"


def post_to_slack(conn_id: str, text: str, timeout_s: float | None = None) -> None:
    """Post through the Slack adapter (``timeouts.slack``); ``timeout_s`` caps this one post."""
    from mercenary_maintenance.adapters import slack

    slack.post(conn_id, mask(text), timeout_s=timeout_s)


def task_log_link(base_url: str, dag_id: str, run_id: str, task_id: str) -> str:
    return f"{run_link(base_url, dag_id, run_id)}/tasks/{quote(task_id, safe='')}"


def format_run_failure(dag_id: str, run_id: str, reason: str | None, failed: list[str], link: str) -> str:
    """The failure notice.

    >>> print(format_run_failure("d", "r", "StepFailed: x on y\\ntrace", ["t1"], "http://l"))
    :red_circle: *d* run `r` failed — StepFailed: x on y
    failed tasks: t1
    <http://l|open the log>
    """
    tasks = ", ".join(failed) if failed else "see the run"
    first = first_line(reason, default="task failure")
    # Error text and run ids can carry user input: shown, never acted on in Slack.
    return (f":red_circle: *{dag_id}* run `{slack_escape(run_id)}` failed — {slack_escape(first)}\n"
            f"failed tasks: {slack_escape(tasks)}\n<{link}|open the log>")


def failure_summary(parts: list[dict[str, Any]]) -> tuple[list[str], str | None]:
    """(tasks whose last try recorded an error, the first error) from the run's report parts."""
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for part in parts:
        key = (str(part.get("task_id")), int(part.get("map_index", -1)))
        if key not in latest or int(part.get("try_number", 0)) >= int(latest[key].get("try_number", 0)):
            latest[key] = part
    failed = sorted(latest.values(), key=lambda p: str(p.get("finished_at") or ""))
    failed = [p for p in failed if p.get("error")]
    names = list(dict.fromkeys(f"{p['task_id']}[{p['map_index']}]" if int(p.get("map_index", -1)) >= 0
                               else str(p["task_id"]) for p in failed))
    return names, (str(failed[0]["error"]) if failed else None)


def _run_parts(dag_id: str, run_id: str) -> list[dict[str, Any]]:
    from mercenary_maintenance.config import load_config
    from mercenary_maintenance.report.store import store_for

    cfg = load_config()
    return store_for(cfg).parts(dag_id, run_id)


class RunFailureNotifier(BaseNotifier):
    """Posts one Slack message when a maintenance DAG run fails."""

    template_fields = ()

    def __init__(self, *, slack_conn_id: str | None = None) -> None:
        super().__init__()
        self.slack_conn_id = slack_conn_id

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing to render (no template fields). BaseNotifier's version asks the context's DAG
        for a Jinja env, and under ``airflow dags test``/``dag.test()`` that DAG is a
        ``SerializedDAG`` without ``get_template_env``: the callback crashed and no notice went out."""
        return

    def notify(self, context: Any) -> None:
        conn_id, base_url = slack_settings()
        dag_run = context["dag_run"]
        failed: list[str] = []
        reason = context.get("reason")
        try:
            failed, error = failure_summary(_run_parts(dag_run.dag_id, dag_run.run_id))
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
        post_to_slack(self.slack_conn_id or conn_id, text)


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
    conn_id, base_url = slack_settings()
    run_id, state = overrun_run(context)
    if state is not None and state not in ("running", "queued"):
        log.info("deadline of %s run %s passed after the run ended (%s): no overrun alert (apache/airflow#60927)",
                 dag_id, run_id, state)
        return
    text = (f":warning: *{dag_id}* is still running at the end of its maintenance window ({window})"
            + (f": `{slack_escape(run_id)}` <{run_link(base_url, dag_id, run_id)}|open the run>" if run_id else "")
            + ". Remaining tasks past the cutoff will be skipped; running statements end at their statement_timeout.")
    await asyncio.to_thread(post_to_slack, conn_id, text)


_NOTICE_LEVELS = {"critical": ("critical",), "warning": ("critical", "warning", "unknown"), "none": ()}


def findings_notice(report: dict[str, Any], level: str, link: str, limit: int = 10) -> str | None:
    """The Slack text for a finished run's findings at or above ``level``; None if nothing to say.

    >>> r = {"dag_id": "maintenance_daily", "run_id": "r1", "status": "critical", "findings": [
    ...     {"check": "backup.freshness", "target": "main", "severity": "critical", "message": "no good full backup"},
    ...     {"check": "redis.memory", "target": "cache", "severity": "warning", "message": "81% of maxmemory"}]}
    >>> print(findings_notice(r, "critical", "http://x/run"))
    :rotating_light: *maintenance_daily* run `r1` finished *critical* — 1 finding(s) need attention:
    • critical `backup.freshness` main: no good full backup
    <http://x/run|open the run>
    >>> findings_notice({**r, "status": "failed"}, "critical", "l") is None  # the failure notifier speaks
    True
    >>> skip = {"check": "maintenance.skipped", "target": "main", "severity": "warning", "message": "vacuum skipped"}
    >>> print(findings_notice({**r, "status": "warning", "findings": [skip]}, "critical", "l"))
    :warning: *maintenance_daily* run `r1` finished *warning* — 1 finding(s) need attention:
    • warning `maintenance.skipped` main: vacuum skipped
    <l|open the run>
    """
    severities = _NOTICE_LEVELS[level]
    if report["status"] == "failed" or not severities:
        return None
    from mercenary_maintenance.skips import ALWAYS_NOTIFY

    # Maintenance that did not happen (skipped for a lock, a busy target, the cutoff) is always listed;
    # findings the run's own maintenance fixed (resolved_by) need no one's attention.
    wanted = [f for f in report["findings"]
              if not f.get("resolved_by")
              and (f["severity"] in severities or (f["check"] in ALWAYS_NOTIFY and f["severity"] != "ok"))]
    if not wanted:
        return None
    order = {"critical": 0, "unknown": 1, "warning": 2}
    wanted.sort(key=lambda f: order.get(f["severity"], 3))
    icon = ":rotating_light:" if report["status"] == "critical" else ":warning:"
    lines = [f"{icon} *{report['dag_id']}* run `{slack_escape(report['run_id'])}` finished *{report['status']}* — "
             f"{len(wanted)} finding(s) need attention:"]
    lines += [f"• {f['severity']} `{f['check']}` {slack_escape(f['target'])}: {slack_escape(f['message'])}"
              for f in wanted[:limit]]
    if len(wanted) > limit:
        lines.append(f"… and {len(wanted) - limit} more in the report")
    lines.append(f"<{link}|open the run>")
    return mask("\n".join(lines))
