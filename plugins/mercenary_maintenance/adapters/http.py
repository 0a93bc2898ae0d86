"""HTTP clients: health probes (urllib) and Prometheus (the http provider's ``HttpHook``).

Every request has a connect bound and a read bound (``timeouts.http``); a target's own
``timeout_seconds`` (``targets.http[].timeout_seconds``) bounds its probe's reads.
"""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mercenary_maintenance.config import TimeoutsConfig

USER_AGENT = "mercenary-maintenance"
MAX_BODY = 65536


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    latency_s: float


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


def get(url: str, *, ca_file: str | None = None, read_s: float | None = None,
        timeouts: TimeoutsConfig) -> HttpAnswer:
    """GET ``url``; an HTTP error status is an answer, a transport error (or a timeout) raises.

    urllib has one socket timeout, bounding the connect and every read: the target's own
    ``read_s`` or ``timeouts.http.read_s``. At most ``MAX_BODY`` bytes are read."""
    timeout = read_s if read_s is not None else timeouts.http.read_s
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": USER_AGENT})
    context = ssl_context(ca_file) if url.startswith("https://") else None
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:
            resp.read(MAX_BODY)
            status, headers = resp.status, {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        status, headers = exc.code, {k.lower(): v for k, v in exc.headers.items()}
    return HttpAnswer(status, headers, time.monotonic() - started)


def prometheus_query(conn_id: str, read_s: float | None = None, *,
                     timeouts: TimeoutsConfig) -> Callable[[str], Mapping[str, Any]]:
    """``GET /api/v1/query`` through ``HttpHook`` on ``conn_id``, with (connect, read) timeouts."""
    from airflow.providers.http.hooks.http import HttpHook

    t = timeouts.http
    hook = HttpHook(method="GET", http_conn_id=conn_id)
    bound = (t.connect_s, read_s or t.read_s)

    def query(promql: str) -> Mapping[str, Any]:
        response = hook.run("api/v1/query", data={"query": promql}, extra_options={"timeout": bound})
        answer: Mapping[str, Any] = response.json()
        return answer

    return query


def connection_get(conn_id: str, path: str, *, timeouts: TimeoutsConfig) -> int:
    """``GET <connection's base URL>/<path>`` through ``HttpHook``; the status (an error status is an answer)."""
    from airflow.providers.http.hooks.http import HttpHook

    t = timeouts.http
    response = HttpHook(method="GET", http_conn_id=conn_id).run(
        path, extra_options={"timeout": (t.connect_s, t.read_s), "check_response": False})
    return int(response.status_code)
