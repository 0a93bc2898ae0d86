"""Pure parts of an approval: who may answer, how long it waits, what it shows, what it records."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mercenary_maintenance.config import MaintenanceConfig
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.windows.rules import Window

APPROVE, REJECT = "Approve", "Reject"
MIN_WAIT = timedelta(minutes=1)


def required(cfg: MaintenanceConfig, kind: str) -> bool:
    return kind in cfg.approvals.required_for


def assigned_users(cfg: MaintenanceConfig, excluding: str | None = None) -> list[dict[str, str]] | None:
    """HITL assigned users from ``approvals.approvers`` without ``excluding`` (the user who triggered
    the run, under separation of duties); None: anyone with access to the DAG."""
    return [{"id": name, "name": name} for name in cfg.approvals.approvers if name != excluding] or None


def triggering_user(cfg: MaintenanceConfig, run: RunInfo) -> str | None:
    """Who may not approve this run (``approvals.separation_of_duties``): the user who triggered it."""
    if not cfg.approvals.separation_of_duties:
        return None
    user = (run.triggered_by or {}).get("user")
    return str(user) if user else None


def timeout(cfg: MaintenanceConfig, window: Window | None, cutoff: timedelta, now: datetime) -> timedelta:
    """``approvals.timeout_minutes``, else until the window's cutoff, else the outside-window default.

    >>> from mercenary_maintenance.config import parse_config
    >>> from mercenary_maintenance.windows.rules import UTC
    >>> w = Window(datetime(2026, 12, 6, 1, tzinfo=UTC), datetime(2026, 12, 6, 5, tzinfo=UTC))
    >>> timeout(parse_config({}), w, timedelta(minutes=15), datetime(2026, 12, 6, 1, 30, tzinfo=UTC))
    datetime.timedelta(seconds=11700)
    >>> timeout(parse_config({"approvals": {"timeout_minutes": 30}}), w, timedelta(minutes=15), w.start)
    datetime.timedelta(seconds=1800)
    >>> timeout(parse_config({}), None, timedelta(minutes=15), w.start)
    datetime.timedelta(seconds=3600)
    """
    if cfg.approvals.timeout_minutes is not None:
        return timedelta(minutes=cfg.approvals.timeout_minutes)
    if window is not None:
        return max(MIN_WAIT, window.end - cutoff - now)
    return timedelta(minutes=cfg.approvals.timeout_minutes_outside_window)


def _cell(value: Any) -> str:
    return str(value if value is not None else "—").replace("|", "\\|").replace("\n", " ")


def subject_body(kind: str, items: list[dict[str, Any]], deadline: datetime) -> tuple[str, str]:
    """The Required Actions request: what, where, size, lock, estimate, rollback per item."""
    actions = sorted({str(i["action"]) for i in items})
    targets = sorted({str(i["target"]) for i in items})
    subject = f"Approve {', '.join(actions)} on {', '.join(targets)}?"
    lines = [f"**{kind}** needs an approval. Without an answer by {deadline.isoformat(timespec='minutes')} "
             "the request resolves to **Reject** and the action is skipped (recorded in the run's report).", "",
             "| action | target | objects | size | lock | estimate | rollback |", "|---|---|---|---|---|---|---|"]
    for i in items:
        estimate = f"{i['estimate_s']:g} s ({i.get('estimate_basis')})" if i.get("estimate_s") is not None else None
        lines.append(f"| {_cell(i['action'])} | {_cell(i['target'])} | {_cell(', '.join(i.get('objects') or []))} "
                     f"| {_cell(i.get('size'))} | {_cell(i.get('lock'))} | {_cell(estimate)} "
                     f"| {_cell(i.get('rollback'))} |")
    notes = [str(i["risk"]) for i in items if i.get("risk")]
    if notes:
        lines += ["", "Risk: " + " / ".join(notes)]
    return subject, "\n".join(lines)


def entries(task_id: str, items: list[dict[str, Any]], *, chosen: str, user: str | None, at: str,
            timed_out: bool, note: str | None = None) -> list[dict[str, Any]]:
    """The report's ``approvals`` entries (docs/report.md), one per item."""
    return [{"task_id": task_id, "action": i["action"], "target": i["target"], "objects": i.get("objects", []),
             "chosen": chosen, "user": user, "at": at, "timed_out": timed_out,
             **({"note": note} if note else {})} for i in items]
