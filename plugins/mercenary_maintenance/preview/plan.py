"""The preview's estimates and risk notes of plan items, and its renderings (pure functions).

A :class:`~mercenary_maintenance.plan.PlanItem` is one action on one target in one
coming window, with the objects it will touch and their figures. Its duration estimate is the
median time that action took per object on that target in the window DAG's previous reports
(``history``), times the number of objects; without history it is derived from the size
(``size``), at a deliberately slow rate, so the estimate errs long.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from mercenary_maintenance.plan import ACTIONS, GIB, PlanItem, TargetState, human_bytes

MIN_ESTIMATE_S = 1.0


def history_durations(reports: Iterable[dict[str, Any]], action: str, target: str) -> list[float]:
    """Durations of every *done* ``action`` on ``target`` in previous reports (one per object).

    >>> reports = [{"actions": [{"action": "postgres.reindex", "target": "main", "status": "done", "duration_s": 4},
    ...                         {"action": "postgres.reindex", "target": "main", "status": "skipped", "duration_s": 9},
    ...                         {"action": "postgres.reindex", "target": "other", "status": "done", "duration_s": 7}]}]
    >>> history_durations(reports, "postgres.reindex", "main")
    [4.0]
    """
    return [float(a.get("duration_s") or 0.0) for r in reports for a in r.get("actions", [])
            if a.get("action") == action and a.get("target") == target and a.get("status") == "done"]


def estimate(action: str, objects: int, size_bytes: int, history: list[float]) -> tuple[float, str]:
    """(seconds, basis): the median per object from history times the objects, else from size.

    >>> estimate("postgres.reindex", 2, 0, [1.0, 3.0, 100.0])
    (6.0, 'history')
    >>> estimate("postgres.reindex", 1, 200 * 2**20, [])
    (10.0, 'size')
    >>> estimate("postgres.vacuum_analyze", 1, 10, [])
    (1.0, 'size')
    """
    count = max(1, objects)
    if history:
        return round(max(0.01, statistics.median(history)) * count, 2), "history"
    rate = ACTIONS[action].bytes_per_s
    return round(max(MIN_ESTIMATE_S * count, size_bytes / rate), 2), "size"


def risk_notes(action: str, size_bytes: int, estimate_s: float, state: TargetState) -> str:
    """Size, lock duration, replica lag and how busy the target is, in one line.

    >>> for note in risk_notes("postgres.vacuum_full", 2 * 2**30, 120.0,
    ...                        TargetState(active_sessions=30, max_active_sessions=20)).split("; "):
    ...     print(note)
    large: 2.0 GiB
    the table is locked for every query for about 120 s
    writes about 2.0 GiB of WAL (replicas must replay it)
    busy target: 30 active sessions (load guard 20)
    >>> risk_notes("postgres.vacuum_analyze", 10, 1.0, TargetState(active_sessions=1))
    'low: 10 B'
    """
    notes = []
    notes.append(("large: " if size_bytes >= GIB else "low: ") + human_bytes(size_bytes))
    if action == "postgres.vacuum_full":
        notes.append(f"the table is locked for every query for about {estimate_s:.0f} s")
    if action in ("postgres.vacuum_full", "postgres.reindex") and size_bytes >= GIB:
        notes.append(f"writes about {human_bytes(size_bytes)} of WAL (replicas must replay it)")
    lag = state.replication_lag_bytes
    if lag is not None and lag > state.max_lag_bytes and action.startswith("postgres."):
        notes.append(f"replica lag {human_bytes(lag)} already above {human_bytes(state.max_lag_bytes)}")
    if state.active_sessions is not None and state.active_sessions > state.max_active_sessions:
        notes.append(f"busy target: {state.active_sessions} active sessions (load guard {state.max_active_sessions})")
    if notes[0].startswith("low") and len(notes) > 1:
        notes[0] = notes[0].replace("low: ", "size ")
    return "; ".join(notes)


def make_item(*, window_dag_id: str, window_start: str, target: str, action: str, objects: list[str],
              size_bytes: int, figures: list[dict[str, Any]], history: list[float], state: TargetState,
              extra_risk: str | None = None) -> PlanItem:
    info = ACTIONS[action]
    seconds, basis = estimate(action, len(objects), size_bytes, history)
    risk = risk_notes(action, size_bytes, seconds, state)
    if extra_risk:
        risk = f"{extra_risk}; {risk}"
    return PlanItem(window_dag_id=window_dag_id, window_start=window_start, target=target, action=action,
                    objects=objects, estimate_s=seconds, estimate_basis=basis, lock=info.lock, risk=risk,
                    rollback=info.rollback, size_bytes=size_bytes, figures=figures)


def render_markdown(plan: list[dict[str, Any]]) -> str:
    if not plan:
        return "Nothing planned: no target crosses a threshold and nothing is opted in."
    lines = ["| window | target | action | objects | estimate | lock | risk | rollback |",
             "|---|---|---|---|---|---|---|---|"]
    for p in plan:
        objects = ", ".join(p["objects"][:5]) + (f" (+{len(p['objects']) - 5})" if len(p["objects"]) > 5 else "")
        lines.append(f"| {p['window_dag_id']} {p['window_start']} | {p['target']} | {p['action']} | {objects} "
                     f"| {p['estimate_s']:g} s ({p['estimate_basis']}) | {p['lock']} | {p['risk']} | {p['rollback']} |")
    return "\n".join(line.replace("\n", " ") for line in lines)


def slack_summary(plan: list[dict[str, Any]], windows: list[tuple[str, str]], link: str, report: str) -> str:
    """The preview's Slack message: per window, the items with estimate and lock.

    >>> print(slack_summary([{"window_dag_id": "maintenance_monthly", "window_start": "2026-12-06T01:00:00+00:00",
    ...     "target": "main", "action": "postgres.vacuum_full", "objects": ["public.ledger"], "estimate_s": 12.0,
    ...     "estimate_basis": "size", "lock": "ACCESS EXCLUSIVE (every read)", "risk": "", "rollback": ""}],
    ...     [("maintenance_monthly", "2026-12-06T01:00:00+00:00")], "http://ui/run", "/r/report.md"))
    :clipboard: *Maintenance preview* — 1 planned item(s)
    *maintenance_monthly* window 2026-12-06T01:00:00+00:00: 1 item(s), about 12 s
    • `postgres.vacuum_full` main: public.ledger — 12 s (size), lock ACCESS EXCLUSIVE
    report: /r/report.md
    <http://ui/run|open the preview run>
    """
    lines = [f":clipboard: *Maintenance preview* — {len(plan)} planned item(s)"]
    for dag_id, start in windows:
        items = [p for p in plan if p["window_dag_id"] == dag_id and p["window_start"] == start]
        total = sum(float(p["estimate_s"]) for p in items)
        lines.append(f"*{dag_id}* window {start}: {len(items)} item(s)" + (f", about {total:.0f} s" if items else
                                                                          " — nothing to change"))
        for p in items[:8]:
            objects = ", ".join(p["objects"][:3]) + ("…" if len(p["objects"]) > 3 else "")
            lock = str(p["lock"]).split(" (")[0]
            lines.append(f"• `{p['action']}` {p['target']}: {objects} — {p['estimate_s']:g} s "
                         f"({p['estimate_basis']}), lock {lock}")
        if len(items) > 8:
            lines.append(f"… and {len(items) - 8} more in the report")
    lines += [f"report: {report}", f"<{link}|open the preview run>"]
    return "\n".join(lines)
