"""One HTTP(S) GET of a configured target: status, headers, latency (CA file honoured).

The request itself is made by :mod:`mercenary_maintenance.adapters.http` (bounded)."""

from __future__ import annotations

from mercenary_maintenance.adapters.http import USER_AGENT, HttpAnswer, ssl_context
from mercenary_maintenance.config import HttpTarget, TimeoutsConfig

__all__ = ["USER_AGENT", "HttpAnswer", "fetch", "ssl_context"]


def fetch(target: HttpTarget, timeouts: TimeoutsConfig) -> HttpAnswer:
    """GET the target; an HTTP error status is an answer, a transport error raises."""
    from mercenary_maintenance.adapters.http import get

    return get(target.url, ca_file=target.ca_file, read_s=target.timeout_seconds, timeouts=timeouts)
