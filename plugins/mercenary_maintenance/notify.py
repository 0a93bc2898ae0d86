"""Slack notices: links into the Airflow UI and the texts of the run-failure and findings notices.
The DAG-level callbacks that send them live in :mod:`mercenary_maintenance.wiring.callbacks`; every
message is posted by :func:`mercenary_maintenance.delivery.to_slack`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from mercenary_maintenance.redact import first_line, slack_escape
from mercenary_maintenance.runner import mask
from mercenary_maintenance.skips import ALWAYS_NOTIFY

log = logging.getLogger(__name__)


def run_link(base_url: str, dag_id: str, run_id: str) -> str:
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}"


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


_NOTICE_LEVELS = {"critical": ("critical",), "warning": ("critical", "warning", "unknown"), "none": ()}


def findings_notice(report: dict[str, Any], level: str, link: str, limit: int = 10,
                    incident: Callable[[str, str], str] | None = None) -> str | None:
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
    # ``incident(check, severity)``: the incident level and response time, e.g. "P2, respond within 1 h".
    lines += [f"• {f['severity']} `{f['check']}` {slack_escape(f['target'])}"
              + (f" ({incident(f['check'], f['severity'])})" if incident else "") + f": {slack_escape(f['message'])}"
              for f in wanted[:limit]]
    if len(wanted) > limit:
        lines.append(f"… and {len(wanted) - limit} more in the report")
    lines.append(f"<{link}|open the run>")
    return mask("\n".join(lines))
