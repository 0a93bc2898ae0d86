"""Small JSON state kept beside the reports, between runs (first sightings of vulnerabilities,
log scan offsets, firewall snapshots).

The report store is write-once, so state is never rewritten: each save is a new object
``state/<name>/<UTC stamp>.json`` and ``load`` reads the newest. The history doubles as an
audit trail (e.g. every firewall snapshot ever taken); old versions beyond ``keep`` are not
deleted here (the report store has no delete), so a lifecycle rule on the prefix bounds them.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.report.store import store_for
from mercenary_maintenance.windows.rules import UTC

if TYPE_CHECKING:
    from mercenary_maintenance.config import MaintenanceConfig
    from mercenary_maintenance.report.store import ReportStore

_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,100}$")


class StateKeeper:
    def __init__(self, store: ReportStore, name: str) -> None:
        if not _NAME.match(name):
            raise ValueError(f"state name {name!r}: lower-case letters, digits, '_', '.', '-'")
        self.store, self.name = store, name

    @property
    def prefix(self) -> str:
        return f"state/{self.name}/"

    def versions(self) -> list[str]:
        return sorted(k for k in self.store.backend.list(self.prefix) if k.endswith(".json") and "/attempts/" not in k)

    def load(self) -> dict[str, Any] | None:
        """The newest saved state, or None before the first save."""
        versions = self.versions()
        if not versions:
            return None
        raw = self.store.backend.get(versions[-1])
        if raw is None:
            return None
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"{self.store.backend.location(versions[-1])} does not hold a JSON object")
        return data

    def save(self, data: dict[str, Any], now: datetime | None = None) -> str:
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
        key = f"{self.prefix}{stamp}-{uuid.uuid4().hex[:8]}.json"
        return self.store.write_once(key, json.dumps(data, sort_keys=True, default=str).encode())


def keeper(cfg: MaintenanceConfig, name: str) -> StateKeeper:

    return StateKeeper(store_for(cfg), name)
