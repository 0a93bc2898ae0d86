"""``services.status``: is every configured PostgreSQL, Redis and HTTP target answering?"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from mercenary_maintenance.config import HttpTarget, MaintenanceConfig, PostgresTarget, RedisTarget
from mercenary_maintenance.findings import Finding, Severity

CHECK = "services.status"


def probe_result(kind: str, name: str, latency_s: float | None, error: str | None, detail: str = "") -> Finding:
    """A reachable service is ok; an unreachable one is critical (the plan: verify all services run)."""
    target = f"{kind}:{name}"
    if error is not None:
        return Finding(CHECK, target, Severity.CRITICAL, f"{kind} target {name!r} is unreachable: {error}",
                       value="down", threshold="up", details={"kind": kind})
    return Finding(CHECK, target, Severity.OK, f"{kind} target {name!r} is up ({detail}, {latency_s:.3f}s)".replace("(, ", "("),
                   value="up", threshold="up", details={"kind": kind, "latency_s": round(latency_s or 0, 4)})


def _timed(fn: Callable[[], str]) -> tuple[float | None, str | None, str]:
    started = time.monotonic()
    try:
        detail = fn()
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return None, f"{type(exc).__name__}: {first}", ""
    return time.monotonic() - started, None, detail


def _postgres(target: PostgresTarget) -> str:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook(postgres_conn_id=target.conn_id, connect_timeout=5).get_conn()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('server_version')")
            row = cur.fetchone()
    finally:
        conn.close()
    return f"PostgreSQL {row[0] if row else '?'}"


def _redis(target: RedisTarget) -> str:
    from airflow.providers.redis.hooks.redis import RedisHook

    client: Any = RedisHook(redis_conn_id=target.conn_id).get_conn()
    client.ping()
    return f"Redis {client.info('server').get('redis_version', '?')}"


def _http(target: HttpTarget) -> str:
    request = urllib.request.Request(target.url, method="GET", headers={"User-Agent": "mercenary-maintenance"})
    try:
        with urllib.request.urlopen(request, timeout=target.timeout_seconds) as response:  # noqa: S310 - configured URL
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    if status != target.expect_status:
        raise RuntimeError(f"HTTP {status}, expected {target.expect_status}")
    return f"HTTP {status}"


def check_all(cfg: MaintenanceConfig) -> list[Finding]:
    findings = []
    for pg in cfg.targets.postgres:
        findings.append(probe_result("postgres", pg.name, *_timed(lambda pg=pg: _postgres(pg))))
    for rd in cfg.targets.redis:
        findings.append(probe_result("redis", rd.name, *_timed(lambda rd=rd: _redis(rd))))
    for web in cfg.targets.http:
        findings.append(probe_result("http", web.name, *_timed(lambda web=web: _http(web))))
    return findings
