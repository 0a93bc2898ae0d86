"""Review history in the report store: each review run stores its snapshot next to its
report (``<dag_id>/<run_id>/review.json``, written once); past reports give the trends."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mercenary_maintenance.redact import mask_value
from mercenary_maintenance.report.store import ReportStore, run_prefix, run_time
from mercenary_maintenance.safepath import safe_component

SNAPSHOT = "review.json"


def save_snapshot(store: ReportStore, dag_id: str, run_id: str, snapshot: dict[str, Any]) -> str:
    data = json.dumps(mask_value(snapshot), sort_keys=True, default=str).encode()
    return store.write_once(f"{run_prefix(dag_id, run_id)}/{SNAPSHOT}", data)


def previous_snapshot(store: ReportStore, dag_id: str, run_id: str) -> dict[str, Any] | None:
    """The newest snapshot of an earlier review run of ``dag_id`` (by ``taken_at``)."""
    best: dict[str, Any] | None = None
    for key in store.backend.list(f"{safe_component(dag_id)}/"):
        parts = key.split("/")
        if len(parts) != 3 or parts[2] != SNAPSHOT or parts[1] == safe_component(run_id):
            continue
        raw = store.read_latest(key)
        if raw is None:
            continue
        snap = json.loads(raw)
        if best is None or str(snap.get("taken_at")) > str(best.get("taken_at")):
            best = snap
    return best


def reports_since(store: ReportStore, dag_ids: list[str], since: datetime) -> list[dict[str, Any]]:
    """Reports of ``dag_ids`` whose run started at or after ``since``, oldest first."""
    found: list[dict[str, Any]] = []
    for dag_id in dag_ids:
        for run_id in store.run_ids(dag_id):
            stamp = run_time(run_id)
            if stamp is not None and stamp < since:
                continue  # cheap filter before reading
            report = store.read_report(dag_id, run_id)
            if report and str(report.get("started_at") or "") >= since.isoformat():
                found.append(report)
    return sorted(found, key=lambda r: str(r.get("started_at")))
