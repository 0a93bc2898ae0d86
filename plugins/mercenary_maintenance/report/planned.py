"""Planned vs done: a window run's report lists each item its preview planned with the outcome
(done / skipped, why / failed / not_run) and the changes it made that were not planned.

The preview is the newest ``maintenance_preview`` report that previewed this window (a
scheduled run: the same window start; a manual run: the DAG's latest previewed window).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mercenary_maintenance.plan import ACTIONS
from mercenary_maintenance.report.store import run_time
from mercenary_maintenance.windows.rules import WINDOW_DAGS

if TYPE_CHECKING:
    from mercenary_maintenance.report.store import ReportStore

PREVIEW_DAG_ID = "maintenance_preview"
RELATION_ACTIONS = ("postgres.vacuum_analyze", "postgres.reindex", "postgres.vacuum_full")
PREVIEWS_READ = 20


def quoted(label: str) -> str:
    """How a ``schema.name`` label appears in the statement the action recorded.

    >>> print(quoted("public.events"), quoted('s.od"d'))
    "public"."events" "s"."od""d"
    """
    schema, _, name = label.partition(".")
    parts = [schema, name] if name else [schema]
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


def _touches(action: dict[str, Any], obj: str) -> bool:
    return quoted(obj) in str((action.get("details") or {}).get("statement") or "")


def _why(actions: list[dict[str, Any]]) -> str:
    return "; ".join(dict.fromkeys(str(a.get("message") or a.get("status")) for a in actions))[:500]


def outcome(item: dict[str, Any], actions: list[dict[str, Any]], skipped_tasks: list[str]) -> dict[str, Any]:
    """The outcome of one planned item in the run's actions."""
    mine = [a for a in actions if a["action"] == item["action"] and a["target"] == item["target"]]
    result = {"action": item["action"], "target": item["target"], "objects": list(item["objects"]),
              "estimate_s": item.get("estimate_s")}
    if not mine:
        why = "not recorded in this run" + (f" (skipped tasks: {'; '.join(skipped_tasks)})" if skipped_tasks else "")
        return {**result, "outcome": "not_run", "why": why}
    if item["action"] in RELATION_ACTIONS:
        per_object = {obj: [a for a in mine if _touches(a, obj)] for obj in item["objects"]}
        relevant = [a for found in per_object.values() for a in found]
        untouched = [obj for obj, found in per_object.items() if not found]
    else:
        relevant, untouched = mine, []
    statuses = {a["status"] for a in relevant}
    if "failed" in statuses:
        return {**result, "outcome": "failed", "why": _why([a for a in relevant if a["status"] == "failed"])}
    if relevant and statuses == {"done"} and not untouched:
        duration = round(sum(float(a.get("duration_s") or 0) for a in relevant), 3)
        return {**result, "outcome": "done", "why": None, "duration_s": duration}
    others = [a for a in relevant if a["status"] != "done"] or [a for a in mine if a not in relevant]
    why = _why(others) if others else ""
    if untouched:
        why = (why + "; " if why else "") + f"not acted on: {untouched}"
    return {**result, "outcome": "skipped", "why": why or "skipped"}


def not_planned(plan: list[dict[str, Any]], actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Changes done in the run that no plan item covered."""
    out = []
    for a in actions:
        if a["status"] != "done" or a["action"] not in ACTIONS:
            continue
        same = [p for p in plan if p["action"] == a["action"] and p["target"] == a["target"]]
        if a["action"] in RELATION_ACTIONS:
            covered = any(_touches(a, obj) for p in same for obj in p["objects"])
            objects = [str((a.get("details") or {}).get("statement") or a.get("message"))]
        else:
            covered, objects = bool(same), [a["target"]]
        if not covered:
            out.append({"action": a["action"], "target": a["target"], "objects": objects, "outcome": "done",
                        "why": "not planned: the preview did not list it"})
    return out


def latest_preview(store: ReportStore, dag_id: str, window_start: str | None) -> tuple[dict[str, Any] | None, str]:
    """(preview report, window start) of the newest preview of this DAG's window."""

    runs = sorted(store.run_ids(PREVIEW_DAG_ID), key=lambda r: (run_time(r) is not None, run_time(r) or 0, r),
                  reverse=True)
    for run_id in runs[:PREVIEWS_READ]:
        report = store.read_report(PREVIEW_DAG_ID, run_id)
        if not report:
            continue
        for w in report.get("previewed_windows", []):
            if w["window_dag_id"] == dag_id and (window_start is None or w["start"] == window_start):
                return report, str(w["start"])
    return None, ""


def render(planned: list[dict[str, Any]], extra: list[dict[str, Any]], source: str) -> str:
    lines = [source, ""]
    if planned or extra:
        lines += ["| outcome | action | target | objects | why |", "|---|---|---|---|---|"]
        for p in planned + extra:
            label = p["outcome"] if p in planned else "done (not planned)"
            why = str(p.get("why") or "").replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {label} | {p['action']} | {p['target']} | {', '.join(p['objects'][:5])} | {why} |")
    else:
        lines.append("Nothing was planned and nothing was changed.")
    return "\n".join(lines)


def attach_planned(store: ReportStore, report: dict[str, Any]) -> None:
    """Add ``planned``, ``not_planned`` and ``planned_from`` to a window run's report (in place)."""
    dag_id = report["dag_id"]
    if dag_id not in WINDOW_DAGS:
        return
    window_start = report["window"]["start"] if report.get("window") else None
    preview, start = latest_preview(store, dag_id, window_start)
    actions = report.get("actions", [])
    if preview is None:
        report["planned"], report["planned_from"] = [], None
        report["not_planned"] = not_planned([], actions)
        source = f"No preview of this window found in the report store ({PREVIEW_DAG_ID})."
    else:
        plan = [p for p in preview.get("plan", []) if p["window_dag_id"] == dag_id and p["window_start"] == start]
        skipped = [f"{t['task']}: {t['skipped']}" for t in report.get("tasks", []) if t.get("skipped")]
        report["planned"] = [outcome(p, actions, skipped) for p in plan]
        report["not_planned"] = not_planned(plan, actions)
        report["planned_from"] = {"run_id": preview["run_id"], "window_start": start}
        source = f"Plan from `{PREVIEW_DAG_ID}` run `{preview['run_id']}` (window {start})."
    report.setdefault("sections", []).append(
        {"title": "Planned vs done", "markdown": render(report["planned"], report["not_planned"], source), "data": {}})
