"""The auditor's command: list recent runs per DAG, and show one run's report.

    python -m mercenary_maintenance.report list [--dag DAG] [--limit N]
    python -m mercenary_maintenance.report show DAG RUN_ID [--json]
    make report ARGS="list --dag emergency_maintenance"

Reads ``reports.url`` from the maintenance config ($MAINTENANCE_CONFIG or
include/maintenance.yaml); ``--url`` overrides it. S3 uses the ``backups.conn_id``
connection (AIRFLOW_CONN_* or the Airflow metadata DB).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from mercenary_maintenance.config import load_config
from mercenary_maintenance.report.build import render_markdown
from mercenary_maintenance.report.store import ReportStore, run_time, store_for


def _sort_key(run_id: str) -> str:
    stamp = run_time(run_id)
    return stamp.isoformat() if stamp else run_id


def recent_runs(store: ReportStore, dag_id: str, limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` reports of ``dag_id``, newest first (status, who, when)."""
    run_ids = sorted(store.run_ids(dag_id), key=_sort_key, reverse=True)[:limit]
    rows = []
    for run_id in run_ids:
        report = store.read_report(dag_id, run_id) or {}
        trig = report.get("triggered_by") or {}
        rows.append({"dag_id": dag_id, "run_id": run_id, "status": report.get("status", "?"),
                     "run_type": report.get("run_type", "?"), "started_at": report.get("started_at") or "",
                     "user": trig.get("user") or "", "ticket": trig.get("ticket") or ""})
    return rows


def format_runs(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no reports found"
    cols = ["dag_id", "run_id", "status", "run_type", "started_at", "user", "ticket"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _store(url: str | None) -> ReportStore:

    cfg = load_config()
    return store_for(cfg, url)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m mercenary_maintenance.report", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="report store (default: reports.url of the config)")
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="last runs per DAG with their status")
    ls.add_argument("--dag", help="only this DAG")
    ls.add_argument("--limit", type=int, default=10, help="runs per DAG (default 10)")
    show = sub.add_parser("show", help="render one run's report")
    show.add_argument("dag_id")
    show.add_argument("run_id")
    show.add_argument("--json", action="store_true", help="print report.json instead of markdown")
    args = parser.parse_args(argv)

    store = _store(args.url)
    if args.command == "list":
        dag_ids = [args.dag] if args.dag else store.dag_ids()
        rows = [row for dag_id in dag_ids for row in recent_runs(store, dag_id, args.limit)]
        print(format_runs(rows), file=out)
        return 0
    report = store.read_report(args.dag_id, args.run_id)
    if report is None:
        print(f"no report for {args.dag_id} / {args.run_id}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else render_markdown(report), file=out, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
