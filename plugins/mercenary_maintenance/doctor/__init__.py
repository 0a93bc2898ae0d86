"""The doctor: ``python -m mercenary_maintenance.doctor [--config FILE] [--json]`` (``make doctor``).

A preflight in the manner of ``pgbackrest check`` and ``barman check`` (docs/doctor.md): it reads the
config and looks at every connection, target, privilege, setting and plan item **without changing
anything**, and prints one line per item — ``ok``, ``fix`` (with the exact fix: the GRANT, the
``ALTER SYSTEM``, the config key) or ``off`` (a plan item nothing is configured for, with the key
that turns it on). Exit 1 when anything needs a fix.

Probes are data: each is a function of a :class:`Context` returning :class:`Item`s, registered
with :func:`probe` (``doctor/probes.py`` holds the built-in ones). A new config key that needs a
preflight is one more registered function; the CLI, the JSON, the bounds and the secret masking
come with the registry. Every probe runs in its own thread under a deadline (its clients carry the
``timeouts`` bounds; the deadline catches what they do not), and every text is masked with the
secrets of every connection the doctor read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from mercenary_maintenance import redact
from mercenary_maintenance.config import MaintenanceConfig

Status = Literal["ok", "fix", "off"]


@dataclass(frozen=True)
class Item:
    """One line of the doctor's answer."""

    item: str
    target: str
    status: Status
    message: str
    fix: str = ""

    def masked(self) -> Item:
        return Item(redact.mask(self.item), redact.mask(self.target), self.status, redact.mask(self.message),
                    redact.mask(self.fix))

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def ok(item: str, target: str, message: str) -> Item:
    return Item(item, target, "ok", message)


def fix(item: str, target: str, message: str, remedy: str) -> Item:
    return Item(item, target, "fix", message, remedy)


def off(item: str, target: str, message: str, key: str) -> Item:
    return Item(item, target, "off", message, key)


class MissingConnection(LookupError):
    """The Airflow connection is not defined (in the environment, the metadata DB or a secrets backend)."""


@dataclass
class Context:
    """What a probe gets: the validated config, the clock, and the Airflow connections (read once,
    their secrets registered for masking before anything is printed)."""

    cfg: MaintenanceConfig
    now: datetime
    airflow_metadata: bool = True
    _connections: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def connection(self, conn_id: str) -> Any:
        """The Airflow connection ``conn_id``; raises :class:`MissingConnection` when it is not defined."""
        with self._lock:
            if conn_id not in self._connections:
                self._connections[conn_id] = _read_connection(conn_id)
            conn = self._connections[conn_id]
        if conn is None:
            raise MissingConnection(conn_id)
        return conn


def _read_connection(conn_id: str) -> Any:
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException and backend errors alike: the probe says what is missing
        if "isn't defined" not in str(exc) and "not found" not in str(exc).lower():
            raise
        return None
    redact.register(*redact.connection_secrets(conn))
    uri = _safe_uri(conn)
    if uri:
        redact.register(uri)
    return conn


def _safe_uri(conn: Any) -> str | None:
    try:
        return str(conn.get_uri())
    except Exception:  # a connection that cannot render its URI has no URI to hide
        return None


Probe = Callable[[Context], Iterable[Item]]


@dataclass(frozen=True)
class Registered:
    name: str
    run: Probe
    bound_s: Callable[[MaintenanceConfig], float]


PROBES: list[Registered] = []


def default_bound(cfg: MaintenanceConfig) -> float:
    """A probe's deadline: the slowest client's connect + read bounds, with room for one retry."""
    t = cfg.timeouts
    slowest = max(t.postgres.connect_s + t.postgres.read_grace_s, t.redis.connect_s + t.redis.read_s,
                  t.s3.connect_s + t.s3.read_s, t.http.connect_s + t.http.read_s)
    return 2 * slowest + 5


def probe(name: str, *, bound_s: Callable[[MaintenanceConfig], float] = default_bound) -> Callable[[Probe], Probe]:
    """Register ``fn`` as a doctor probe (run in registration order, lines printed in that order)."""

    def register(fn: Probe) -> Probe:
        PROBES[:] = [p for p in PROBES if p.name != name]
        PROBES.append(Registered(name, fn, bound_s))
        return fn

    return register


def _run_one(registered: Registered, ctx: Context) -> list[Item]:
    result: list[Item] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            result.extend(registered.run(ctx))
        except BaseException as exc:  # reported as a fix line below, never a traceback with secrets
            failure.append(exc)

    thread = threading.Thread(target=body, name=f"doctor-{registered.name}", daemon=True)
    thread.start()
    deadline = registered.bound_s(ctx.cfg)
    thread.join(deadline)
    if thread.is_alive():
        return [fix(registered.name, "—", f"no answer within {deadline:.0f} s (the probe was abandoned)",
                    "see what hangs: the connection's host and port, a firewall dropping packets")]
    if failure:
        return [fix(registered.name, "—", f"the probe failed: {redact.first_line(failure[0])}",
                    "see the message; rerun with --json for every line")]
    return result


def run_probes(ctx: Context, probes: Iterable[Registered] | None = None) -> list[Item]:
    """Every probe in registration order, one after the other (Airflow's and the providers' imports are
    not safe to run in parallel threads), each bounded by its deadline; the lines masked."""
    chosen = list(PROBES if probes is None else probes)
    return [item.masked() for registered in chosen for item in _run_one(registered, ctx)]


def exit_code(items: Iterable[Item]) -> int:
    return 1 if any(i.status == "fix" for i in items) else 0
