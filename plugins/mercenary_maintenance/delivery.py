"""The one Slack entry point: at-least-once delivery with bounded retries and backoff, within a budget.

:func:`to_slack` is the only way a message reaches Slack: it masks the text and posts it through
the Slack adapter (``adapters.slack``), retried by :func:`deliver` (the retry loop, tested without a
network). :func:`post` is what a task calls to post one message on the config's Slack connection
(``alerts.slack_attempts``, ``slack_retry_delay_seconds``, ``slack_timeout_seconds`` per attempt,
``slack_send_budget_seconds`` for all of them). ``tests/dags/test_layers.py`` fails if any other
module calls the adapter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mercenary_maintenance.adapters import slack
from mercenary_maintenance.redact import first_line
from mercenary_maintenance.runner import mask

if TYPE_CHECKING:
    from mercenary_maintenance.config import MaintenanceConfig, TimeoutsConfig

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
    """Slack stayed down for every attempt of a :func:`post` (or of a checked :func:`to_slack`)."""


def checked(result: Delivery, what: str) -> Delivery:
    """``result``, or :class:`NotDelivered` (naming ``what``) when no attempt got through."""
    if not result.ok:
        raise NotDelivered(f"{what} not delivered after {result.attempts} attempt(s): {result.error}")
    return result


def to_slack(
    text: str,
    *,
    conn_id: str,
    timeouts: TimeoutsConfig,
    timeout_s: float | None = None,
    attempts: int = 1,
    delay_s: float = 1.0,
    deadline: float | None = None,
    send: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Delivery:
    """Post ``text`` (masked here) on the Slack webhook ``conn_id``: each attempt through the Slack
    adapter bounded by ``timeouts.slack`` (capped at ``timeout_s``), up to ``attempts`` attempts
    before ``deadline`` (a ``clock()`` instant). ``send`` replaces the adapter in tests."""
    if send is None:
        def send(t: str) -> None:
            slack.post(conn_id, t, timeouts=timeouts, timeout_s=timeout_s)
    return deliver(mask(text), send, attempts=attempts, delay_s=delay_s, sleep=sleep, deadline=deadline, clock=clock)


def post(cfg: MaintenanceConfig, text: str, what: str = "Slack message", *, attempts: int | None = None) -> Delivery:
    """Post ``text`` on ``alerts.slack_conn_id`` with the configured retries (or ``attempts``) and
    budget; raise :class:`NotDelivered` (naming ``what``) when no attempt got through."""
    alerts = cfg.alerts
    return checked(to_slack(text, conn_id=alerts.slack_conn_id, timeouts=cfg.timeouts,
                            timeout_s=alerts.slack_timeout_seconds,
                            attempts=alerts.slack_attempts if attempts is None else attempts,
                            delay_s=alerts.slack_retry_delay_seconds,
                            deadline=time.monotonic() + alerts.slack_send_budget_seconds), what)
