"""At-least-once delivery of Slack messages: bounded retries with backoff, within a budget.

:func:`deliver` takes the ``send`` function (the Slack adapter in production, a recorder in unit
tests), so retrying is tested without a network; :func:`post` is what a task calls to post one
message on the config's Slack connection (``alerts.slack_attempts``, ``slack_retry_delay_seconds``,
``slack_timeout_seconds`` per attempt, ``slack_send_budget_seconds`` for all of them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mercenary_maintenance.redact import first_line

if TYPE_CHECKING:
    from mercenary_maintenance.config import MaintenanceConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    ok: bool
    attempts: int
    error: str | None = None


def deliver(
    text: str,
    send: Callable[[str], None],
    *,
    attempts: int = 3,
    delay_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Delivery:
    """Send ``text``; retry on any error up to ``attempts`` times (delay doubling).

    ``deadline`` (a ``clock()`` instant) bounds the whole delivery: no attempt starts and no
    back-off sleeps past it, so a slow receiver cannot hold the caller beyond its budget (each
    attempt is bounded by the sender's own timeout).
    """
    error = ""
    for attempt in range(1, attempts + 1):
        if deadline is not None and clock() >= deadline:
            return Delivery(False, attempt - 1, error or "send budget spent before the first attempt")
        try:
            send(text)
            return Delivery(True, attempt)
        except Exception as exc:  # any transport or HTTP error is retried, then reported
            error = first_line(exc)
            log.warning("Slack delivery attempt %d/%d failed: %s", attempt, attempts, error)
            if attempt < attempts:
                pause = delay_s * 2 ** (attempt - 1)
                if deadline is not None:
                    pause = min(pause, max(0.0, deadline - clock()))
                sleep(pause)
    return Delivery(False, attempts, error)


class NotDelivered(RuntimeError):
    """Slack stayed down for every attempt of a :func:`post`."""


def post(cfg: MaintenanceConfig, text: str, what: str = "Slack message") -> Delivery:
    """Post ``text`` on ``alerts.slack_conn_id`` with the configured retries and budget; raise
    :class:`NotDelivered` (naming ``what``) when no attempt got through."""
    from mercenary_maintenance.notify import post_to_slack

    alerts = cfg.alerts
    result = deliver(text, lambda t: post_to_slack(alerts.slack_conn_id, t, cfg.timeouts, alerts.slack_timeout_seconds),
                     attempts=alerts.slack_attempts, delay_s=alerts.slack_retry_delay_seconds,
                     deadline=time.monotonic() + alerts.slack_send_budget_seconds)
    if not result.ok:
        raise NotDelivered(f"{what} not delivered after {result.attempts} attempt(s): {result.error}")
    return result
