"""One HTTP(S) GET of a configured target: status, headers, latency (CA file honoured)."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from mercenary_maintenance.config import HttpTarget

USER_AGENT = "mercenary-maintenance"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    latency_s: float


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


def fetch(target: HttpTarget) -> HttpAnswer:
    """GET the target; an HTTP error status is an answer, a transport error raises."""
    request = urllib.request.Request(target.url, method="GET", headers={"User-Agent": USER_AGENT})
    context = ssl_context(target.ca_file) if target.url.startswith("https://") else None
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=target.timeout_seconds, context=context) as resp:
            resp.read(65536)
            status, headers = resp.status, {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        status, headers = exc.code, {k.lower(): v for k, v in exc.headers.items()}
    return HttpAnswer(status, headers, time.monotonic() - started)
