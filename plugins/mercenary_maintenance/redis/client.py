"""The one way the redis area gets a client: the Redis adapter (``RedisHook`` with timeouts)."""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.adapters import redis as adapter
from mercenary_maintenance.config import MaintenanceConfig


def connect(cfg: MaintenanceConfig, target: str) -> Any:
    """A redis-py client for the named target (bytes replies), bounded by ``timeouts.redis``."""

    return adapter.connect(cfg.redis_target(target).conn_id, timeouts=cfg.timeouts)


def info(client: Any, section: str | None = None) -> dict[str, Any]:
    return dict(client.info(section) if section else client.info())
