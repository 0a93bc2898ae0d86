"""PostgreSQL connections: the only place ``PostgresHook`` or ``psycopg.connect`` is called.

Every connection gets libpq's ``connect_timeout``, TCP keepalives (a vanished peer is noticed
after idle + interval × count seconds), ``tcp_user_timeout`` and an ``application_name``.
``PostgresHook`` ignores keyword arguments it does not know, and reads extra libpq options
only from the connection's extras; :class:`BoundedPostgresHook` adds ours to the arguments the
hook builds (extras of the Airflow connection win, so a deployment can tune one target).

A server that is up but silent (a stopped backend, a hung proxy) still answers keepalives, so
:func:`read_deadline` bounds a statement on the client: when it passes, the socket is shut down
and the blocked call fails naming what hung.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    from mercenary_maintenance.config import PostgresTimeouts, TimeoutsConfig

log = logging.getLogger(__name__)
APP_PREFIX = "mercenary-maintenance"


class ReadTimeout(TimeoutError):
    """A statement got no answer within its bound; the connection was closed."""


def bounds(t: PostgresTimeouts, application_name: str = APP_PREFIX) -> dict[str, Any]:
    """libpq options bounding connect and detecting a dead peer.

    >>> from mercenary_maintenance.config import PostgresTimeouts
    >>> b = bounds(PostgresTimeouts(connect_s=2.5), "x")
    >>> b["connect_timeout"], b["keepalives"], b["tcp_user_timeout"], b["application_name"]
    (3, 1, 25000, 'x')
    """
    return {
        "connect_timeout": max(2, math.ceil(t.connect_s)),  # libpq: whole seconds, 1 means 2
        "keepalives": 1,
        "keepalives_idle": t.keepalives_idle_s,
        "keepalives_interval": t.keepalives_interval_s,
        "keepalives_count": t.keepalives_count,
        # Unacknowledged data (a peer that vanished mid-send) is bounded like an idle peer.
        "tcp_user_timeout": 1000 * (t.keepalives_idle_s + t.keepalives_interval_s * t.keepalives_count),
        "application_name": application_name[:63],
    }


@functools.cache
def hook_class() -> type[Any]:
    """``PostgresHook`` whose connections carry :func:`bounds` (connection extras override them).

    Built on first use: importing the provider costs time DAG parsing need not pay."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    class BoundedPostgresHook(PostgresHook):  # type: ignore[misc]
        def __init__(self, *args: Any, bounds: dict[str, Any], **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._bounds = dict(bounds)

        def _create_connection(self, conn_args: dict[str, Any]) -> Any:
            return super()._create_connection({**self._bounds, **conn_args})

    return BoundedPostgresHook


def connect(conn_id: str, *, purpose: str = "", timeouts: TimeoutsConfig,
            dbname: str | None = None, autocommit: bool = True) -> psycopg.Connection[Any]:
    """An autocommit connection of the Airflow connection ``conn_id`` (credentials stay in the hook)."""
    t = timeouts.postgres
    name = f"{APP_PREFIX}:{purpose}" if purpose else APP_PREFIX
    kwargs: dict[str, Any] = {"postgres_conn_id": conn_id, "bounds": bounds(t, name)}
    if dbname:
        kwargs["database"] = dbname
    conn: Any = hook_class()(**kwargs).get_conn()
    conn.autocommit = autocommit
    return conn  # type: ignore[no-any-return]


def connect_params(*, timeouts: TimeoutsConfig, application_name: str = APP_PREFIX,
                   **params: Any) -> psycopg.Connection[Any]:
    """A connection from explicit libpq parameters (a scratch server, a backup's own session)."""
    import psycopg

    t = timeouts.postgres
    return psycopg.connect(**{**bounds(t, application_name), **params})


def _shutdown(conn: Any) -> None:
    try:
        sock = socket.socket(fileno=os.dup(conn.pgconn.socket))
    except Exception as exc:  # already closed: nothing is waiting on it
        log.debug("no socket to shut down: %s", exc)
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError as exc:
        log.debug("socket shutdown: %s", exc)
    finally:
        sock.close()


@contextmanager
def read_deadline(conn: Any, seconds: float, what: str) -> Iterator[None]:
    """Bound the calls inside on the client: after ``seconds`` the socket is shut down and the
    blocked call raises :class:`ReadTimeout` naming ``what``."""
    fired = threading.Event()

    def cut() -> None:
        fired.set()
        log.warning("%s: no answer within %.1fs, closing the connection", what, seconds)
        _shutdown(conn)

    timer = threading.Timer(max(0.0, seconds), cut)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception as exc:
        if fired.is_set():
            raise ReadTimeout(f"{what}: no answer from PostgreSQL within {seconds:.1f}s "
                              "(timeouts.postgres.read_grace_s past statement_timeout); connection closed") from exc
        raise
    finally:
        timer.cancel()


class ProbeError(RuntimeError):
    """The probe's ``SELECT 1`` did not succeed (the message is psql's or the driver's)."""


PROBE_SQL = "SELECT 1, current_setting('server_version')"


def probe(conn_id: str, *, timeouts: TimeoutsConfig) -> str:
    """Connect + ``SELECT 1`` on ``conn_id`` through psycopg under :func:`read_deadline`; the version."""
    t = timeouts.postgres
    conn: Any = connect(conn_id, purpose="probe", timeouts=timeouts)
    try:
        with read_deadline(conn, t.read_grace_s, "probe"):
            row = conn.execute(PROBE_SQL).fetchone()
    finally:
        conn.close()
    return str(row[1]) if row else "?"


def program_env(conn_id: str, *, purpose: str, timeouts: TimeoutsConfig) -> tuple[dict[str, str], float]:
    """The libpq environment for a program (``psql``) on ``conn_id``, and its deadline in seconds.

    ``PGCONNECT_TIMEOUT`` and a ``statement_timeout`` (``PGOPTIONS``) bound it on the server side;
    the caller runs it through ``runner`` with the deadline (connect + read grace). The password
    travels in ``PGPASSWORD`` (never on a command line; the runner does not log environments)."""
    from airflow.sdk import BaseHook

    t = timeouts.postgres
    c = BaseHook.get_connection(conn_id)
    extra = c.extra_dejson or {}
    connect_s = bounds(t)["connect_timeout"]
    env = {"PGHOST": c.host or "localhost", "PGPORT": str(c.port or 5432), "PGUSER": c.login or "postgres",
           "PGDATABASE": c.schema or extra.get("dbname") or "postgres", "PGCONNECT_TIMEOUT": str(connect_s),
           "PGAPPNAME": f"{APP_PREFIX}:{purpose}"[:63],
           "PGOPTIONS": f"-c statement_timeout={int(t.read_grace_s * 1000)}"}
    if c.password:
        env["PGPASSWORD"] = c.password
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey"):
        if extra.get(key):
            env[f"PG{key.upper()}"] = str(extra[key])
    return env, connect_s + t.read_grace_s + 2
