"""Alertmanager's API v2 through the http provider's ``HttpHook``: the only place it is called.

``POST /api/v2/alerts`` (a list of alerts: labels, annotations, startsAt, endsAt) and
``GET /api/v2/alerts`` (to learn which of our alerts are silenced: acknowledged). Every request
has the ``timeouts.http`` connect and read bounds; a non-2xx answer raises.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mercenary_maintenance.config import TimeoutsConfig


class Alertmanager:
    def __init__(self, conn_id: str, timeouts: TimeoutsConfig) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        t = timeouts.http
        self.bound = (t.connect_s, t.read_s)
        self.conn_id = conn_id
        self._post = HttpHook(method="POST", http_conn_id=conn_id)
        self._get = HttpHook(method="GET", http_conn_id=conn_id)

    def post_alerts(self, alerts: Sequence[dict[str, Any]]) -> None:
        """Send ``alerts`` (Alertmanager keeps one per label set: a re-post refreshes it)."""
        self._post.run("api/v2/alerts", data=json.dumps(list(alerts)), headers={"Content-Type": "application/json"},
                       extra_options={"timeout": self.bound})

    def alerts(self, filters: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Active, silenced and inhibited alerts matching ``filters`` (``label="value"`` matchers)."""
        response = self._get.run("api/v2/alerts", data={"filter": list(filters)}, extra_options={"timeout": self.bound})
        answer: list[dict[str, Any]] = response.json()
        return answer
