"""Build the docs/report.md report from the parts the tasks recorded, and render it as markdown."""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.findings import Severity
from mercenary_maintenance.report.resolution import effective_severity, fold_remeasured

FAILED_STATES = {"failed", "upstream_failed"}


def latest_parts(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the last try of each (task, map index): a retried task replaces its earlier tries."""
    best: dict[tuple[str, int], dict[str, Any]] = {}
    for part in parts:
        key = (part["task_id"], int(part.get("map_index", -1)))
        if key not in best or int(part["try_number"]) > int(best[key]["try_number"]):
            best[key] = part
    return [best[k] for k in sorted(best)]


def run_status(findings: list[dict[str, Any]], actions: list[dict[str, Any]], failed_tasks: list[str]) -> str:
    if failed_tasks or any(a["status"] == "failed" for a in actions):
        return "failed"
    # The state after maintenance: a finding the run's own action fixed does not count.
    worst = max((Severity.parse(effective_severity(f)) for f in findings), default=Severity.OK)
    if worst is Severity.CRITICAL:
        return "critical"
    if worst in (Severity.WARNING, Severity.UNKNOWN):
        return "warning"
    return "ok"


def build_report(
    *,
    dag_id: str,
    run_id: str,
    run_type: str,
    triggered_by: dict[str, Any] | None,
    window: dict[str, str] | None,
    started_at: str | None,
    finished_at: str,
    parts: list[dict[str, Any]],
    task_states: dict[str, str],
) -> dict[str, Any]:
    kept = latest_parts(parts)
    findings = fold_remeasured([f for p in kept for f in p.get("findings", [])])
    actions = [a for p in kept for a in p.get("actions", [])]
    sections = [s for p in kept for s in p.get("sections", [])]
    errors = {_label(p): p["error"] for p in kept if p.get("error")}
    failed = sorted({t for t, s in task_states.items() if s in FAILED_STATES} | set(errors))
    tasks = [
        {"task": _label(p), "try_number": p["try_number"], "started_at": p.get("started_at"),
         "finished_at": p.get("finished_at"), "error": p.get("error"), "skipped": p.get("skipped")}
        for p in kept
    ]
    report: dict[str, Any] = {
        "dag_id": dag_id,
        "run_id": run_id,
        "run_type": run_type,
        "triggered_by": triggered_by,
        "window": window,
        "started_at": started_at,
        "finished_at": finished_at,
        "status": run_status(findings, actions, failed),
        "findings": findings,
        "actions": actions,
        "sections": sections,
        "tasks": tasks,
        "failed_tasks": failed,
        "task_states": task_states,
    }
    # Optional keys of docs/report.md ("plan", "approvals", …) recorded by the tasks where they apply.
    for part in kept:
        for key, items in (part.get("report_keys") or {}).items():
            report.setdefault(key, []).extend(items)
    return report


def _label(part: dict[str, Any]) -> str:
    index = int(part.get("map_index", -1))
    return str(part["task_id"]) + (f"[{index}]" if index >= 0 else "")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")[:300]


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# {report['dag_id']} — {report['status'].upper()}",
        "",
        f"- run: `{report['run_id']}` ({report['run_type']})",
        f"- started: {report['started_at']}  finished: {report['finished_at']}",
    ]
    if report.get("window"):
        lines.append(f"- window: {report['window']['start']} → {report['window']['end']}")
    trig = report.get("triggered_by")
    if trig:
        lines.append(f"- triggered by: {trig.get('user') or 'unknown'}"
                     f"; reason: {trig.get('reason') or '—'}; ticket: {trig.get('ticket') or '—'}")
    if report.get("failed_tasks"):
        lines.append(f"- failed tasks: {', '.join(report['failed_tasks'])}")
    lines += ["", "## Findings", ""]
    if report["findings"]:
        lines += ["| severity | check | target | value | threshold | message |", "|---|---|---|---|---|---|"]
        order = sorted(report["findings"], key=lambda f: -Severity.parse(f["severity"]))
        for f in order:
            message = f["message"]
            if f.get("after_maintenance"):
                after = f["after_maintenance"]
                message += (f" — {'resolved' if f.get('resolved_by') else 'after'} {after['action']}: "
                            f"{after['severity']}, {after.get('value')}")
            lines.append(f"| {f['severity']} | {f['check']} | {_cell(f['target'])} | {_cell(f.get('value'))} "
                         f"| {_cell(f.get('threshold'))} | {_cell(message)} |")
    else:
        lines.append("No findings.")
    unconfigured = [f for f in report["findings"] if (f.get("details") or {}).get("not_configured")]
    if unconfigured:
        lines += ["", "## Not configured", "", "These checks had nothing to look at; configure them to be covered:", ""]
        lines += [f"- `{f['check']}` ({_cell(f['target'])}): {_cell(f['message'])}" for f in unconfigured]
    lines += ["", "## Actions", ""]
    if report["actions"]:
        lines += ["| status | action | target | duration (s) | message |", "|---|---|---|---|---|"]
        for a in report["actions"]:
            lines.append(f"| {a['status']} | {a['action']} | {_cell(a['target'])} | {a.get('duration_s', 0)} "
                         f"| {_cell(a['message'])} |")
    else:
        lines.append("No actions.")
    if report.get("approvals"):
        lines += ["", "## Approvals", "", "| task | action | target | chosen | by | at | timed out |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {a['task_id']} | {a['action']} | {_cell(a['target'])} | {a['chosen']} | {_cell(a.get('user'))} "
                  f"| {a.get('at')} | {a.get('timed_out')} |" for a in report["approvals"]]
    errors = [t for t in report.get("tasks", []) if t.get("error")]
    if errors:
        lines += ["", "## Errors", ""]
        lines += [f"- `{t['task']}` (try {t['try_number']}): {_cell(t['error'])}" for t in errors]
    for section in report.get("sections", []):
        lines += ["", f"## {section['title']}", "", section["markdown"]]
    return "\n".join(lines) + "\n"
