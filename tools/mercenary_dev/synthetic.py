"""Plausible run reports for a year of every DAG: the console's tests, benchmark and screenshots.

Each report has the shape `report.build.build_report` writes and the findings/actions the real tasks write (names,
targets, the details the trend charts read), with values that drift over time. Written
through :meth:`ReportStore.write_report`, so the summaries and the journal are the real ones.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from mercenary_maintenance.report.build import render_markdown
from mercenary_maintenance.report.store import ReportStore
from mercenary_maintenance.windows.rules import MONTHLY_WINDOW, QUARTERLY_WINDOW, UTC, WEEKLY_WINDOW

PG, REDIS, HTTP = "main", "cache", "api"
TABLES = ["demo.orders", "demo.events", "public.sessions", "public.audit_log", "demo.carts", "public.jobs"]


def _finding(check: str, target: str, severity: str, message: str, value: Any = None,
             details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"check": check, "target": target, "severity": severity, "value": value, "threshold": None,
            "message": message, "details": details or {}}


def _action(action: str, target: str, status: str, duration: float, message: str,
            details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"action": action, "target": target, "status": status, "duration_s": round(duration, 3),
            "message": message, "details": details or {}}


def _grade(value: float, warning: float, critical: float) -> str:
    return "critical" if value > critical else "warning" if value > warning else "ok"


def content(dag_id: str, at: datetime, rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    day = (at - datetime(2026, 1, 1, tzinfo=UTC)).total_seconds() / 86400
    wave = 1 + 0.3 * math.sin(day / 9)
    findings: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    if dag_id == "backup_full":
        size = int((180 + day * 0.4) * 2**20 * (1 + rng.uniform(-0.02, 0.02)))
        seconds = size / 2**20 / 48 * rng.uniform(0.9, 1.2)
        actions.append(_action("backup.full", PG, "done", seconds + 0.4, f"full backup of {PG}: {size >> 20} MB",
                               {"size": size, "seconds": round(seconds, 2), "tables": 42}))
    elif dag_id == "backup_incremental":
        actions.append(_action("backup.incremental", PG, "done", rng.uniform(2, 6), "incremental backup stored",
                               {"size": int(rng.uniform(4, 20) * 2**20)}))
    elif dag_id == "maintenance_daily":
        disk = 55 + day * 0.05 + rng.uniform(-1, 1)
        used = int(600 * 2**20 * wave)
        frag = round(1.05 + 0.4 * max(0.0, math.sin(day / 13)), 2)
        findings += [
            _finding("postgres.blocked_locks", PG, "ok", "no blocked sessions", 0),
            _finding("postgres.long_running_transactions", PG, "ok", "no long transactions", 0),
            _finding("postgres.connections", PG, "ok", "12% of max_connections in use", 12.0),
            _finding("backup.freshness", PG, "ok", "latest full backup 3.1 h old", 3.1, {"kind": "full"}),
            _finding("backup.freshness", PG, "ok", "latest incremental backup 1.2 h old", 1.2, {"kind": "incremental"}),
            _finding("redis.memory", REDIS, _grade(used / 2**30 * 100, 80, 95), f"used {used >> 20} MB",
                     round(used / 2**30 * 100, 1),
                     {"used_memory": used, "fragmentation_ratio": frag}),
            _finding("redis.slowlog", REDIS, "warning" if rng.random() < 0.1 else "ok", "slow commands in the slowlog"),
            _finding("services.status", f"postgres:{PG}", "ok", "up", "up"),
            _finding("services.status", f"redis:{REDIS}", "ok", "up", "up"),
            _finding("tls.certificate_expiry", HTTP, "ok" if day % 90 < 70 else "warning",
                     f"certificate expires in {int(90 - day % 90)} days", int(90 - day % 90)),
            _finding("http.security_headers", HTTP, "warning", "Content-Security-Policy missing", 80),
            _finding("host.disk_usage", "vm:/", _grade(disk, 80, 90), f"/ is {disk:.1f}% full", round(disk, 2),
                     {"path": "/"}),
            _finding("host.disk_usage", "vm:/var/log", _grade(disk * 0.7, 80, 90),
                     f"/var/log is {disk * 0.7:.1f}% full", round(disk * 0.7, 2), {"path": "/var/log"}),
        ]
    elif dag_id in ("maintenance_weekly", "maintenance_monthly", "maintenance_quarterly"):
        rows: list[dict[str, Any]] = [{"schema": t.split(".")[0], "table_name": t.split(".")[1],
                 "dead_tuples": int(rng.uniform(0.5, 1.5) * 40000 * wave / (i + 1))} for i, t in enumerate(TABLES)]
        worst = max(rows, key=lambda r: r["dead_tuples"])
        pct = round(worst["dead_tuples"] / 4000, 1)
        findings.append(_finding("postgres.dead_tuples", PG, _grade(pct, 10, 20),
                                 f"worst {worst['schema']}.{worst['table_name']} {pct}% dead", pct,
                                 {"top_by_dead_tuples": sorted(rows, key=lambda r: -r["dead_tuples"])}))
        actions.append(_action("postgres.vacuum_analyze", PG, "done", rng.uniform(5, 40), "VACUUM (ANALYZE) done"))
        ok = rng.random() > 0.05
        duration = 60 + day * 0.1 + rng.uniform(-5, 5)
        phases = {"globals": 0.3, "download": round(duration * 0.2, 1), "restore": round(duration * 0.45, 1),
                  "post_data": round(duration * 0.25, 1), "verify": round(duration * 0.1 - 0.3, 1)}
        actions.append(_action("backup.restore_test", PG, "done" if ok else "failed", duration,
                               "restore test passed" if ok else "row counts differ from the manifest",
                               {"restore_seconds": round(sum(phases.values()), 1), "phases": phases}))
        findings.append(_finding("backup.restore_test", PG, "ok" if ok else "critical",
                                 "row counts match the manifest" if ok else "restore test failed: row counts differ",
                                 round(duration, 1)))
    elif dag_id == "emergency_maintenance":
        actions.append(_action("postgres.vacuum_analyze", PG, "dry_run", 0.1, "would VACUUM (ANALYZE) demo.orders"))
    return findings, actions


def schedule(now: datetime, days: int = 365) -> Iterator[tuple[str, datetime]]:
    """(dag_id, run start) for ``days`` of the plan's schedules (about 3,000 runs a year, alerts left out)."""
    start = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    for d in range(days):
        day = start + timedelta(days=d)
        yield "backup_full", day.replace(hour=1)
        yield "maintenance_daily", day.replace(hour=0, minute=30)
        for h in range(0, 24, 4):
            yield "backup_incremental", day.replace(hour=h)
    for dag_id, rule in (("maintenance_weekly", WEEKLY_WINDOW), ("maintenance_monthly", MONTHLY_WINDOW),
                         ("maintenance_quarterly", QUARTERLY_WINDOW)):
        moment = start
        while True:
            window = rule.first_starting_at_or_after(moment)
            if window.start >= now:
                break
            yield dag_id, window.start
            moment = window.start + timedelta(minutes=1)
    for m in range(0, days, 30):
        yield "emergency_maintenance", start + timedelta(days=m, hours=14)


def report(dag_id: str, started: datetime, rng: random.Random) -> dict[str, Any]:
    findings, actions = content(dag_id, started, rng)
    kind = "manual" if dag_id == "emergency_maintenance" else "scheduled"
    finished = started + timedelta(minutes=rng.uniform(1, 20))
    severities = {f["severity"] for f in findings}
    failed = any(a["status"] == "failed" for a in actions)
    status = ("failed" if failed else "critical" if "critical" in severities
              else "warning" if severities & {"warning", "unknown"} else "ok")
    daily_tasks = (("health", "check_services"), ("postgres", "check_daily"), ("backups", "verify_backups"))
    tasks = {f"{group}.{task}": "success" for group, task in daily_tasks} if dag_id == "maintenance_daily" else {}
    return {
        "dag_id": dag_id, "run_id": f"{kind}__{started.isoformat()}", "run_type": kind,
        "triggered_by": {"user": "admin", "reason": "synthetic", "ticket": "OPS-1"} if kind == "manual" else None,
        "window": None, "started_at": started.isoformat(), "finished_at": finished.isoformat(), "status": status,
        "findings": findings, "actions": actions, "sections": [], "tasks": [], "failed_tasks": [],
        "task_states": tasks,
    }


def populate(store: ReportStore, now: datetime, days: int = 365, seed: int = 7, threads: int = 16) -> int:
    """Write the reports of ``days`` of schedules ending at ``now``; returns how many."""
    rng = random.Random(seed)
    reports = [report(dag_id, at, rng) for dag_id, at in schedule(now, days) if at < now]

    def write(r: dict[str, Any]) -> None:
        store.write_report(r, render_markdown(r))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(write, reports))
    return len(reports)
