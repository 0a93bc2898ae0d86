"""Redis clients: the only place ``RedisHook`` (or ``redis.Redis``) is used.

``RedisHook`` builds ``redis.Redis`` without timeouts, and redis-py always fills
``socket_connect_timeout``/``socket_timeout`` in the pool's connection kwargs (with its own
defaults: ``None`` in redis-py 5, 5 s in 8), so a ``setdefault`` there does nothing: ours are
assigned before the first connection is made, independent of the library's version.
"""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.config import TimeoutsConfig


def bound(client: Any, timeouts: TimeoutsConfig) -> Any:
    """Apply connect/read timeouts and one quick retry to a not yet connected client."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    t = timeouts.redis
    kwargs = client.connection_pool.connection_kwargs
    kwargs["socket_connect_timeout"] = t.connect_s
    kwargs["socket_timeout"] = t.read_s
    for key in ("orig_socket_timeout", "orig_socket_connect_timeout"):  # redis-py 8 restores these
        if key in kwargs:
            kwargs[key] = t.read_s if key == "orig_socket_timeout" else t.connect_s
    # One quick retry, not redis-py's default backoff series: a down server is reported, not waited for.
    kwargs["retry"] = Retry(NoBackoff(), 1)
    return client


def connect(conn_id: str, *, timeouts: TimeoutsConfig) -> Any:
    """A redis-py client of the Airflow connection ``conn_id`` (bytes replies, as the hook builds it)."""
    from airflow.providers.redis.hooks.redis import RedisHook

    return bound(RedisHook(redis_conn_id=conn_id).get_conn(), timeouts)  # type: ignore[no-untyped-call]


class ProbeError(RuntimeError):
    """Redis answered the probe with an error (or not with PONG)."""


def _command(*args: str) -> bytes:
    return b"".join([f"*{len(args)}\r\n".encode(), *(f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n"
                                                      for a in args)])


def _reply(stream: Any) -> str:
    """One RESP reply: a simple string, an error (raised) or a bulk string."""
    line: str = stream.readline(65536).decode(errors="replace").rstrip("\r\n")
    if not line:
        raise ProbeError("Redis closed the connection")
    if line.startswith("-"):
        raise ProbeError(line[1:])
    if line.startswith("$"):
        size = int(line[1:])
        return "" if size < 0 else str(stream.read(size + 2)[:size].decode(errors="replace"))
    return line[1:]


def ping(conn_id: str, *, timeouts: TimeoutsConfig) -> str:
    """``PING`` (after ``AUTH`` when the connection has a password) over a plain socket; returns the
    server version (``INFO server``), raises when Redis does not answer PONG.

    A few bytes of RESP instead of redis-py: alert_evaluation probes every 5 minutes, and the
    client's import costs a fresh task process more than the probe. Bounded by
    ``timeouts.redis`` (connect, then every read); TLS when the connection's extra says ``ssl``.
    """
    import socket
    import ssl

    from airflow.sdk import BaseHook

    c = BaseHook.get_connection(conn_id)
    extra = c.extra_dejson or {}
    t = timeouts.redis
    host = c.host or "localhost"
    sock: Any = socket.create_connection((host, int(c.port or 6379)), timeout=t.connect_s)
    try:
        sock.settimeout(t.read_s)
        if str(extra.get("ssl", "")).lower() in ("true", "1", "yes"):
            context = ssl.create_default_context(cafile=extra.get("ssl_ca_certs"))
            sock = context.wrap_socket(sock, server_hostname=host)
        stream = sock.makefile("rb")
        if c.password:
            sock.sendall(_command("AUTH", *([c.login] if c.login else []), c.password))
            _reply(stream)
        sock.sendall(_command("PING"))
        if _reply(stream) != "PONG":
            raise ProbeError("no PONG")
        sock.sendall(_command("INFO", "server"))
        info = _reply(stream)
    finally:
        sock.close()
    version = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("redis_version:")),
                   "?")
    return version
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
