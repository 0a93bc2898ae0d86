"""The overview's data (docs/ui.md ``/maintenance/api/status``), built from the run index.

One row per configured target (PostgreSQL, Redis, HTTP): the worst open finding per area
(the latest result of each check on that target, the worst of an area's checks), the age
of the last full backup, the last restore test; then the last run of each DAG and the
next maintenance windows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mercenary_maintenance.config import MaintenanceConfig
from mercenary_maintenance.console.index import RunIndex
from mercenary_maintenance.findings import Severity
from mercenary_maintenance.windows.rules import UTC, WINDOW_DAGS

# Areas whose findings belong to one kind of target.
AREA_KIND = {"postgres": "postgres", "backup": "postgres", "redis": "redis", "http": "http", "tls": "http"}


def owner(check: str, finding_target: str, targets: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The configured (kind, name) a finding is about, or None (host-wide, a bucket, …).

    >>> owner("services.status", "redis:cache", [("postgres", "main"), ("redis", "cache")])
    ('redis', 'cache')
    >>> owner("backup.freshness", "main", [("postgres", "main"), ("redis", "main")])
    ('postgres', 'main')
    >>> owner("host.disk_usage", "vm:/", [("postgres", "main")]) is None
    True
    """
    kind_hint, _, name = finding_target.rpartition(":")
    area = check.split(".", 1)[0]
    kinds = [kind_hint] if kind_hint else ([AREA_KIND[area]] if area in AREA_KIND else [k for k, _ in targets])
    for kind, target in targets:
        if kind in kinds and target == name:
            return kind, target
    return None


def configured_targets(cfg: MaintenanceConfig) -> list[tuple[str, str]]:
    t = cfg.targets
    return ([("postgres", x.name) for x in t.postgres] + [("redis", x.name) for x in t.redis]
            + [("http", x.name) for x in t.http])


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else None


def next_windows(cfg: MaintenanceConfig, now: datetime, weeks: int = 8) -> list[dict[str, Any]]:
    """Every window of the weekly/monthly/quarterly DAGs starting in the coming ``weeks``, with its cutoff."""
    horizon = now + timedelta(weeks=weeks)
    out = []
    for dag_id, rule in WINDOW_DAGS.items():
        cutoff = timedelta(minutes=cfg.windows.cutoff_minutes.get(dag_id, 15))
        for window in rule.windows_from(now):
            if window.end > now and window.start < horizon:
                out.append({"dag_id": dag_id, "start": window.start.isoformat(), "end": window.end.isoformat(),
                            "cutoff": (window.end - cutoff).isoformat(), "summary": rule.summary()})
    return sorted(out, key=lambda w: (w["start"], w["dag_id"]))


def _area_entry(findings: list[dict[str, Any]]) -> dict[str, Any]:
    worst = max(findings, key=lambda f: (int(Severity.parse(f["severity"])), f["ts"]))
    bad = [f for f in findings if f["severity"] != "ok"]
    message = worst["message"] if bad else f"{len({f['check'] for f in findings})} check(s) ok"
    return {"severity": worst["severity"], "check": worst["check"], "message": message,
            "open": len(bad), "at": iso(worst["ts"]), "dag_id": worst["dag_id"], "run_id": worst["run_id"]}


def build_status(index: RunIndex, cfg: MaintenanceConfig, now: datetime) -> dict[str, Any]:
    targets = configured_targets(cfg)
    by_target: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {t: {} for t in targets}
    unowned: dict[str, list[dict[str, Any]]] = {}
    for f in index.latest_findings():
        key = owner(f["check"], f["target"], targets)
        area = f["check"].split(".", 1)[0]
        if key is None:
            unowned.setdefault(area, []).append(f)
        else:
            by_target[key].setdefault(area, []).append(f)
    rows = []
    for kind, name in targets:
        areas = {area: _area_entry(fs) for area, fs in sorted(by_target[(kind, name)].items())}
        worst = max((Severity.parse(a["severity"]) for a in areas.values()), default=Severity.OK)
        row: dict[str, Any] = {"kind": kind, "name": name, "worst": worst.label if areas else "unknown",
                               "areas": areas, "last_full_backup_age_s": None, "last_restore_test": None}
        if kind == "postgres":
            backup = index.last_event("backup.full", name, ok_only=True)
            if backup is not None:
                row["last_full_backup_age_s"] = round(now.timestamp() - backup["ts"], 1)
                row["last_full_backup"] = {"at": iso(backup["ts"]), "dag_id": backup["dag_id"],
                                           "run_id": backup["run_id"]}
            restore = index.last_event("backup.restore_test", name, ok_only=False)
            if restore is not None:
                row["last_restore_test"] = {"ok": bool(restore["ok"]), "duration_s": restore["duration_s"],
                                            "at": iso(restore["ts"])}
                row["last_restore_run"] = {"dag_id": restore["dag_id"], "run_id": restore["run_id"]}
        rows.append(row)
    runs = [{"dag_id": r["dag_id"], "run_id": r["run_id"], "status": r["status"], "finished_at": r["finished_at"]}
            for r in index.last_runs()]
    windows = next_windows(cfg, now)
    return {
        "targets": rows,
        "runs": runs,
        "next_windows": [{"dag_id": w["dag_id"], "start": w["start"], "end": w["end"]} for w in windows],
        # For the HTML page only (the JSON keeps docs/ui.md's keys).
        "_windows": windows,
        "_other": {area: _area_entry(fs) for area, fs in sorted(unowned.items())},
    }


def public(status: dict[str, Any]) -> dict[str, Any]:
    """The JSON of ``/maintenance/api/status``: docs/ui.md's keys."""
    keys = ("kind", "name", "worst", "areas", "last_full_backup_age_s", "last_restore_test")
    return {"targets": [{k: t[k] for k in keys} for t in status["targets"]],
            "runs": status["runs"], "next_windows": status["next_windows"]}
