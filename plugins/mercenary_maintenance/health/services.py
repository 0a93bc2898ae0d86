"""``services.status``: is every configured PostgreSQL, Redis, HTTP and host target answering?

PostgreSQL and Redis: reachable is ok, unreachable critical. HTTP: the expected status
is required (another status or no answer is critical), and the response time of the
probe is evaluated against ``thresholds.latency_p95_seconds`` (the plan's 1 s / 2 s).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

from mercenary_maintenance import runner
from mercenary_maintenance.adapters import pgwire
from mercenary_maintenance.adapters import postgres as pg_adapter
from mercenary_maintenance.adapters import redis as redis_adapter
from mercenary_maintenance.config import (
    HostTarget,
    HttpTarget,
    MaintenanceConfig,
    PostgresTarget,
    RedisTarget,
    TimeoutsConfig,
)
from mercenary_maintenance.findings import Finding, Severity, Threshold, evaluate, limit_for
from mercenary_maintenance.health import host as host_checks
from mercenary_maintenance.health.http import fetch
from mercenary_maintenance.hosts import transport_for
from mercenary_maintenance.redact import first_line

CHECK = "services.status"


def probe_result(kind: str, name: str, latency_s: float | None, error: str | None, detail: str = "") -> Finding:
    """A reachable service is ok; an unreachable one is critical (the plan: verify all services run)."""
    target = f"{kind}:{name}"
    if error is not None:
        return Finding(CHECK, target, Severity.CRITICAL, f"{kind} target {name!r} is unreachable: {error}",
                       value="down", threshold="up", details={"kind": kind})
    what = f"{detail}, " if detail else ""
    return Finding(CHECK, target, Severity.OK, f"{kind} target {name!r} is up ({what}{latency_s or 0:.3f}s)",
                   value="up", threshold="up", details={"kind": kind, "latency_s": round(latency_s or 0, 4)})


def http_result(name: str, url: str, status: int | None, expect: int, latency_s: float | None, error: str | None,
                latency: Threshold) -> Finding:
    """Status first (wrong or none is critical), then the response time through the one evaluator."""
    target = f"http:{name}"
    if error is not None or status != expect:
        why = error or f"HTTP {status}, expected {expect}"
        return Finding(CHECK, target, Severity.CRITICAL, f"http target {name!r} ({url}) is failing: {why}",
                       value="down", threshold="up", details={"kind": "http", "status": status})
    severity = evaluate(latency_s, latency)
    message = f"http target {name!r} answered HTTP {status} in {latency_s:.3f}s"
    if severity is not Severity.OK:
        message += f" (slower than {limit_for(severity, latency)}s)"
    return Finding(CHECK, target, severity, message, value=round(latency_s or 0, 4),
                   threshold=limit_for(severity, latency), details={"kind": "http", "status": status, "url": url})


def _timed(fn: Callable[[], str]) -> tuple[float | None, str | None, str]:
    started = time.monotonic()
    try:
        detail = fn()
    except Exception as exc:
        return None, first_line(exc), ""
    return time.monotonic() - started, None, detail


def _postgres(target: PostgresTarget, timeouts: TimeoutsConfig) -> str:
    """Connect + ``SELECT 1`` in a few bytes of the wire protocol (:mod:`.adapters.pgwire`), else through
    ``psql`` when it is installed (TLS, another authentication method): alert_evaluation probes every
    5 minutes, and importing psycopg costs a fresh task process more CPU than the rest of the run, a
    ``psql`` process about 40 ms. Without psql, through the adapter's psycopg connection."""
    env, deadline = pg_adapter.program_env(target.conn_id, purpose="services.status", timeouts=timeouts)
    try:
        return f"PostgreSQL {pgwire.probe(env, deadline)}"
    except pgwire.Unsupported:
        pass  # libpq answers instead
    psql = shutil.which("psql")
    if psql is None:
        return f"PostgreSQL {pg_adapter.probe(target.conn_id, timeouts=timeouts)}"
    done = runner.run([psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", pg_adapter.PROBE_SQL], env=env,
                      timeout=deadline, check=False)
    out = (done.stdout or "").strip().split("|")
    if done.returncode != 0 or out[0] != "1":
        lines = [line for line in (done.stderr or "").splitlines() if line.strip()]
        raise pg_adapter.ProbeError(lines[0].removeprefix("psql: ").strip() if lines
                                    else f"psql exited {done.returncode}")
    return f"PostgreSQL {out[1] if len(out) > 1 else '?'}"


def _redis(target: RedisTarget, timeouts: TimeoutsConfig) -> str:
    return f"Redis {redis_adapter.ping(target.conn_id, timeouts=timeouts)}"


def check_http(target: HttpTarget, latency: Threshold, timeouts: TimeoutsConfig) -> Finding:

    try:
        answer = fetch(target, timeouts)
    except Exception as exc:
        return http_result(target.name, target.url, None, target.expect_status, None, first_line(exc), latency)
    return http_result(target.name, target.url, answer.status, target.expect_status, answer.latency_s, None, latency)


# One probe per target kind (connect + SELECT 1, PING, GET), each bounded by ``timeouts``; the
# alert_evaluation probes get them from the registry, keyed by kind.
def probe_postgres(cfg: MaintenanceConfig, target: PostgresTarget) -> Finding:
    return probe_result("postgres", target.name, *_timed(lambda: _postgres(target, cfg.timeouts)))


def probe_redis(cfg: MaintenanceConfig, target: RedisTarget) -> Finding:
    return probe_result("redis", target.name, *_timed(lambda: _redis(target, cfg.timeouts)))


def probe_http(cfg: MaintenanceConfig, target: HttpTarget) -> Finding:
    return check_http(target, cfg.thresholds.latency_p95_seconds.as_threshold(), cfg.timeouts)


def check_all(cfg: MaintenanceConfig) -> list[Finding]:
    return ([probe_postgres(cfg, t) for t in cfg.targets.postgres] + [probe_redis(cfg, t) for t in cfg.targets.redis]
            + [probe_http(cfg, t) for t in cfg.targets.http])


def probe_host(cfg: MaintenanceConfig, target: HostTarget) -> Finding:
    """``services.status`` of a host (target ``host:<name>``): its transport reachable (SSH connect, key pinned)
    and each of its services running; critical when unreachable or a service is down."""

    name = f"host:{target.name}"
    started = time.monotonic()
    transport = transport_for(cfg, target.name)
    try:
        try:
            transport.run("file_ids", "/")
        except Exception as exc:
            return Finding(CHECK, name, Severity.CRITICAL, f"host target {target.name!r} is unreachable: "
                           f"{first_line(exc)}", details={"kind": "host"})
        latency = time.monotonic() - started
        found = [host_checks.check_service(transport, s) for s in target.services]
    finally:
        transport.close()
    down = [f for f in found if f.severity is not Severity.OK]
    details = {"kind": "host", "services": {f.target: f.severity.label for f in found}}
    if down:
        return Finding(CHECK, name, max(f.severity for f in down),
                       f"host target {target.name!r} is reachable but {len(down)} service(s) are not running: "
                       + "; ".join(f.message for f in down[:5]), details=details)
    return Finding(CHECK, name, Severity.OK, f"host target {target.name!r} is up ({latency:.3f}s; "
                   f"{len(found)} service(s) running)", value=round(latency, 4), details=details)
