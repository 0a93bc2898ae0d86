"""The one-screen summary of the demo's runs, built from their report.json files (pure)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEVERITIES = ("critical", "warning", "unknown", "ok")
ACTION_STATUSES = ("done", "dry_run", "skipped", "failed")
NOTABLE = ("critical", "unknown", "warning")


@dataclass
class DagResult:
    dag_id: str
    returncode: int | None  # None: timed out / interrupted
    seconds: float
    report: dict[str, Any] | None
    report_path: Path | None
    log_path: Path

    @property
    def status(self) -> str:
        """The report's status, or ``no report`` (an infrastructure failure)."""
        return str(self.report["status"]) if self.report else "no report"

    @property
    def infrastructure_error(self) -> bool:
        return self.report is None


def find_report(reports_root: Path, dag_id: str) -> Path | None:
    """The newest report.json of ``dag_id`` under the file report store."""
    found = sorted((reports_root / dag_id).glob("*/report.json"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def counts(items: list[dict[str, Any]], key: str, order: tuple[str, ...]) -> str:
    tally = Counter(str(item.get(key)) for item in items)
    return "/".join(str(tally.get(name, 0)) for name in order)


def notable_findings(results: list[DagResult], limit: int = 10) -> list[str]:
    lines: list[tuple[int, str]] = []
    for result in results:
        for finding in (result.report or {}).get("findings", []):
            severity = str(finding.get("severity"))
            if severity in NOTABLE:
                message = " ".join(str(finding.get("message", "")).split())[:70]
                line = f"  {severity:<8} {finding.get('check', '?'):<34} {finding.get('target', ''):<10} {message}"
                lines.append((NOTABLE.index(severity), line))
    seen: list[str] = []
    for _, line in sorted(lines, key=lambda pair: pair[0]):
        if line not in seen:
            seen.append(line)
    extra = len(seen) - limit
    return seen[:limit] + ([f"  … and {extra} more (see the reports)"] if extra > 0 else [])


def not_configured(results: list[DagResult]) -> list[str]:
    """Checks that had nothing to look at (``details.not_configured``), one line each."""
    seen: list[str] = []
    for result in results:
        for finding in (result.report or {}).get("findings", []):
            if (finding.get("details") or {}).get("not_configured"):
                line = f"  {finding.get('check', '?'):<34} {finding.get('target', ''):<10} {finding.get('message', '')}"
                if line not in seen:
                    seen.append(line)
    return seen


def plan_lines(results: list[DagResult], limit: int = 8) -> list[str]:
    """The preview's plan (``maintenance_preview`` report ``plan``), one line per item."""
    plans = [r.report for r in results if r.report and "plan" in r.report]
    if not plans:
        return []
    plan = plans[-1]["plan"]
    lines = ["", f"Plan of the coming windows (maintenance_preview): {len(plan)} item(s)"]
    for p in plan[:limit]:
        objects = ", ".join(p["objects"][:2]) + ("…" if len(p["objects"]) > 2 else "")
        window = f"{p['window_dag_id'].removeprefix('maintenance_')} {str(p['window_start'])[:16]}"
        lock = str(p["lock"]).split(" (")[0]
        lines.append(f"  {window:<24} {p['action']:<24} {p['target']:<8} {objects[:40]:<40} "
                     f"~{p['estimate_s']:g} s ({p['estimate_basis']}), {lock}")
    if len(plan) > limit:
        lines.append(f"  … and {len(plan) - limit} more (see the preview's report.md)")
    return lines


def render(results: list[DagResult], reports_root: Path, slack_messages: int, total_s: float) -> str:
    header = f"{'DAG':<24} {'status':<10} {'findings crit/warn/unk/ok':<26} {'actions done/dry/skip/fail':<27} time"
    lines = ["", "Summary", header, "-" * len(header)]
    for r in results:
        findings = (r.report or {}).get("findings", [])
        actions = (r.report or {}).get("actions", [])
        status = r.status.upper() if r.status in ("failed", "no report") else r.status
        lines.append(
            f"{r.dag_id:<24} {status:<10} {counts(findings, 'severity', SEVERITIES):<26} "
            f"{counts(actions, 'status', ACTION_STATUSES):<27} {r.seconds:5.1f} s"
        )
    failed = [r for r in results if r.report and r.report.get("failed_tasks")]
    lines += plan_lines(results)
    notable = notable_findings(results)
    if notable:
        lines += ["", "Findings that need attention:", *notable]
    unconfigured = not_configured(results)
    if unconfigured:
        lines += ["", "Checks with nothing configured (set these up to be covered):", *unconfigured]
    if failed:
        lines.append("")
        for r in failed:
            tasks = ", ".join(r.report["failed_tasks"]) if r.report else ""
            lines.append(f"FAILED {r.dag_id}: tasks {tasks} (log: {r.log_path})")
    for r in results:
        if r.infrastructure_error:
            lines.append(f"NO REPORT {r.dag_id}: `airflow dags test` exited {r.returncode}; see {r.log_path}")
    lines += [
        "",
        f"Reports: {reports_root}/<dag_id>/<run_id>/report.md (and report.json)",
        f"Slack messages received by the local webhook: {slack_messages}",
        f"Total time: {total_s:.0f} s",
    ]
    return "\n".join(lines)
