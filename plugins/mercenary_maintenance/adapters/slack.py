"""Slack webhook posts: the only place ``SlackWebhookHook`` is used.

The slack_sdk webhook client takes one ``timeout`` (seconds, applied to connect and to each
read); we give it ``timeouts.slack`` connect + read, so one post costs at most that much.
"""

from __future__ import annotations

import math

from mercenary_maintenance.config import TimeoutsConfig


def post(conn_id: str, text: str, *, timeouts: TimeoutsConfig, timeout_s: float | None = None) -> None:
    """Post ``text`` (already masked by the caller) to the webhook of ``conn_id``; raise on failure.

    ``timeout_s`` caps this post below ``timeouts.slack`` (the alert sender's per-POST bound)."""
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    t = timeouts.slack
    # The hook takes whole seconds; the socket timeout applies to connect and to each read.
    bound = max(t.connect_s, t.read_s) if timeout_s is None else min(timeout_s, max(t.connect_s, t.read_s))
    timeout = max(1, math.ceil(bound))
    SlackWebhookHook(slack_webhook_conn_id=conn_id, timeout=timeout).send(text=text)
