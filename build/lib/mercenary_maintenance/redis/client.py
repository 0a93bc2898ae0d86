"""The one way the redis area gets a client: the provider's ``RedisHook``."""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.config import MaintenanceConfig

CONNECT_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 60.0


def connect(cfg: MaintenanceConfig, target: str) -> Any:
    """A redis-py client for the named target (bytes replies, as the hook builds it)."""
    from airflow.providers.redis.hooks.redis import RedisHook
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    conn_id = cfg.redis_target(target).conn_id
    client: Any = RedisHook(redis_conn_id=conn_id).get_conn()  # type: ignore[no-untyped-call]
    # The hook sets no timeouts; an unreachable host must not hang a maintenance task.
    kwargs = client.connection_pool.connection_kwargs
    kwargs.setdefault("socket_connect_timeout", CONNECT_TIMEOUT_S)
    kwargs.setdefault("socket_timeout", COMMAND_TIMEOUT_S)
    # One quick retry, not redis-py's default backoff series: a down server is reported, not waited for.
    kwargs["retry"] = Retry(NoBackoff(), 1)
    return client


def info(client: Any, section: str | None = None) -> dict[str, Any]:
    return dict(client.info(section) if section else client.info())
