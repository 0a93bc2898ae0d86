"""A run's compact summary: what the console needs from a report, a few KB instead of the report.

``write_report`` stores it twice: beside the report (``<dag_id>/<run_id>/summary.json``) and
as an entry of the time-ordered journal ``_index/<finished stamp>__<n>.json``, so a reader
learns about new runs by listing the journal after the last entry it has seen instead of
walking every run folder. The summary carries the run's identity and status, its findings
and actions with short messages, the states of its tasks, and the numbers the trend charts
draw (``points``).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from mercenary_maintenance.report.resolution import effective_severity

SUMMARY_VERSION = 1
INDEX_PREFIX = "_index/"
MESSAGE_CHARS = 300
TOP_TABLES = 10

_STAMP_CHARS = re.compile(r"[^0-9T]")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _short(text: Any) -> str:
    value = "" if text is None else str(text)
    return value if len(value) <= MESSAGE_CHARS else value[: MESSAGE_CHARS - 1] + "…"


def trend_points(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The numbers the trend charts draw, one ``{series, target, label, value}`` each.

    >>> trend_points({"findings": [{"check": "host.disk_usage", "target": "vm:/", "severity": "ok",
    ...   "value": 41.5, "details": {"path": "/"}}], "actions": []})
    [{'series': 'disk_percent', 'target': 'vm:/', 'label': '/', 'value': 41.5}]
    """
    points: list[dict[str, Any]] = []

    def add(series: str, target: str, label: str, value: Any) -> None:
        number = _number(value)
        if number is not None:
            points.append({"series": series, "target": target, "label": label, "value": number})

    for f in report.get("findings", []):
        check, target, details = f.get("check"), str(f.get("target")), f.get("details") or {}
        if check == "postgres.dead_tuples":
            for row in (details.get("top_by_dead_tuples") or [])[:TOP_TABLES]:
                add("dead_tuples", target, f"{row.get('schema')}.{row.get('table_name')}", row.get("dead_tuples"))
        elif check == "redis.memory":
            add("redis_used_memory_bytes", target, target, details.get("used_memory"))
            add("redis_fragmentation_ratio", target, target, details.get("fragmentation_ratio"))
        elif check == "host.disk_usage":
            add("disk_percent", target, str(details.get("path") or target), f.get("value"))
    for a in report.get("actions", []):
        if a.get("status") != "done":
            continue
        action, target, details = a.get("action"), str(a.get("target")), a.get("details") or {}
        if action == "backup.full":
            add("backup_size_bytes", target, target, details.get("size"))
            add("backup_duration_s", target, target, details.get("seconds", a.get("duration_s")))
        elif action == "backup.restore_test":
            add("restore_duration_s", target, target, details.get("restore_seconds", a.get("duration_s")))
            for phase, seconds in (details.get("phases") or {}).items():
                add("restore_phase_s", target, str(phase), seconds)
    return points


def task_outcomes(report: dict[str, Any]) -> dict[str, str]:
    """State per task id (mapped tasks folded: the worst of their instances; skips by the window guard)."""
    rank = {"success": 0, "skipped": 1, "upstream_failed": 2, "failed": 3}
    out: dict[str, str] = {}
    for task, state in (report.get("task_states") or {}).items():
        base = re.sub(r"(_\d+|\[\d+\])$", "", task)
        if base not in out or rank.get(state, 1) > rank.get(out[base], 1):
            out[base] = state
    for task in report.get("tasks") or []:
        if task.get("skipped"):
            base = re.sub(r"\[\d+\]$", "", str(task.get("task")))
            out.setdefault(base, "skipped")
    return out


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """The compact summary of one report (docs/report.md shape in, a few KB out)."""
    return {
        "v": SUMMARY_VERSION,
        "dag_id": report["dag_id"],
        "run_id": report["run_id"],
        "run_type": report.get("run_type"),
        "status": report.get("status"),
        "started_at": report.get("started_at"),
        "finished_at": report.get("finished_at"),
        "window": report.get("window"),
        "findings": [
            # The severity after the run's own maintenance (a finding it fixed no longer counts).
            {"check": f.get("check"), "target": str(f.get("target")), "severity": effective_severity(f),
             "message": _short(f.get("message")), "value": _number(f.get("value")),
             **({"kind": str(f["details"]["kind"])} if isinstance(f.get("details"), dict)
                and isinstance(f["details"].get("kind"), str) else {})}
            for f in report.get("findings", [])
        ],
        "actions": [
            {"action": a.get("action"), "target": str(a.get("target")), "status": a.get("status"),
             "duration_s": _number(a.get("duration_s")), "message": _short(a.get("message"))}
            for a in report.get("actions", [])
        ],
        "tasks": task_outcomes(report),
        "points": trend_points(report),
    }


def index_key(summary: dict[str, Any]) -> str:
    """The journal key of a summary: sortable by finish time, unique per run.

    >>> index_key({"dag_id": "d", "run_id": "r", "finished_at": "2026-12-01T02:03:04.5+00:00"})
    '_index/20261201T020304500000__d__d1c0a31e65.json'
    """
    # A report always has finished_at; a hand-written partial one is journaled as of now.
    finished = datetime.fromisoformat(str(summary.get("finished_at") or datetime.now(UTC).isoformat()))
    finished = finished.astimezone(UTC) if finished.tzinfo else finished
    stamp = _STAMP_CHARS.sub("", finished.strftime("%Y%m%dT%H%M%S%f"))
    digest = hashlib.sha256(f"{summary['dag_id']}/{summary['run_id']}".encode()).hexdigest()[:10]
    return f"{INDEX_PREFIX}{stamp}__{summary['dag_id']}__{digest}.json"
