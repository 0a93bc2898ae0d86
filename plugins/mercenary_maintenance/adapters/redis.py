"""Redis clients: the only place ``RedisHook`` (or ``redis.Redis``) is used.

``RedisHook`` builds ``redis.Redis`` without timeouts, and redis-py always fills
``socket_connect_timeout``/``socket_timeout`` in the pool's connection kwargs (with its own
defaults: ``None`` in redis-py 5, 5 s in 8), so a ``setdefault`` there does nothing: ours are
assigned before the first connection is made, independent of the library's version.
"""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.adapters import current_timeouts
from mercenary_maintenance.config import TimeoutsConfig


def bound(client: Any, timeouts: TimeoutsConfig | None = None) -> Any:
    """Apply connect/read timeouts and one quick retry to a not yet connected client."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    t = current_timeouts(timeouts).redis
    kwargs = client.connection_pool.connection_kwargs
    kwargs["socket_connect_timeout"] = t.connect_s
    kwargs["socket_timeout"] = t.read_s
    for key in ("orig_socket_timeout", "orig_socket_connect_timeout"):  # redis-py 8 restores these
        if key in kwargs:
            kwargs[key] = t.read_s if key == "orig_socket_timeout" else t.connect_s
    # One quick retry, not redis-py's default backoff series: a down server is reported, not waited for.
    kwargs["retry"] = Retry(NoBackoff(), 1)
    return client


def connect(conn_id: str, *, timeouts: TimeoutsConfig | None = None) -> Any:
    """A redis-py client of the Airflow connection ``conn_id`` (bytes replies, as the hook builds it)."""
    from airflow.providers.redis.hooks.redis import RedisHook

    return bound(RedisHook(redis_conn_id=conn_id).get_conn(), timeouts)  # type: ignore[no-untyped-call]


def send_once(client: Any, *args: Any) -> Any:
    """Send a non-idempotent command (MEMORY PURGE, BGREWRITEAOF, the lock's SET NX) exactly once.

    The client's retry re-sends a command after a read timeout or a dropped connection; for these
    the first one may well have run (a second BGREWRITEAOF, a SET NX that now finds our own key).
    Here a failure is raised as it is, and the connection it happened on is closed."""
    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_command(*args)
        return client.parse_response(conn, str(args[0]))
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)
