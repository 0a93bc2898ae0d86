"""Slack notifications through the slack provider's webhook hook on ``alerts.slack_conn_id``.

* :class:`RunFailureNotifier` — the DAG-level ``on_failure_callback``: once per failed run
  (not per retry), with the failed tasks, the reason and a link to the run.
* :func:`window_overrun` — the ``DeadlineAlert`` callback: a window run still running at
  the window's end.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

from mercenary_maintenance.runner import mask

log = logging.getLogger(__name__)
DEFAULT_SLACK_CONN_ID = "maintenance_slack"


def slack_settings() -> tuple[str, str]:
    """(conn id, UI base URL) from the config; the defaults when the config itself is broken,
    so that the failure caused by a broken config is still announced."""
    from mercenary_maintenance.config import ConfigError, load_config

    try:
        cfg = load_config()
    except ConfigError:
        return DEFAULT_SLACK_CONN_ID, "http://localhost:8080"
    return cfg.alerts.slack_conn_id, cfg.alerts.base_url


def run_link(base_url: str, dag_id: str, run_id: str) -> str:
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}"


def post_to_slack(conn_id: str, text: str) -> None:
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    SlackWebhookHook(slack_webhook_conn_id=conn_id).send(text=mask(text))


def format_run_failure(dag_id: str, run_id: str, reason: str | None, failed: list[str], link: str) -> str:
    tasks = ", ".join(failed) if failed else "see the run"
    first_line = (reason or "").strip().splitlines()[0] if (reason or "").strip() else "task failure"
    return f":red_circle: *{dag_id}* run `{run_id}` failed — {first_line}\nfailed tasks: {tasks}\n<{link}|open the run>"


class RunFailureNotifier(BaseNotifier):
    """Posts one Slack message when a maintenance DAG run fails."""

    template_fields = ()

    def __init__(self, *, slack_conn_id: str | None = None) -> None:
        super().__init__()
        self.slack_conn_id = slack_conn_id

    def notify(self, context: Any) -> None:
        conn_id, base_url = slack_settings()
        dag_run = context["dag_run"]
        failed: list[str] = []
        try:
            states = context["ti"].get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id])
            failed = sorted(t for t, s in states.get(dag_run.run_id, {}).items() if s in ("failed", "upstream_failed"))
        except Exception:  # the message still goes out without the list
            log.warning("could not list failed tasks for the failure notice", exc_info=True)
        text = format_run_failure(
            dag_run.dag_id, dag_run.run_id, context.get("reason"), failed,
            run_link(base_url, dag_run.dag_id, dag_run.run_id),
        )
        post_to_slack(self.slack_conn_id or conn_id, text)


async def window_overrun(dag_id: str, window: str, context: Any = None, **_: Any) -> None:
    """DeadlineAlert callback: the window closed and the run is still going."""
    conn_id, base_url = slack_settings()
    run_id = ""
    if isinstance(context, dict):
        run_id = str((context.get("dag_run") or {}).get("run_id", "")) if isinstance(context.get("dag_run"), dict) else ""
    text = (f":warning: *{dag_id}* is still running at the end of its maintenance window ({window})"
            + (f": `{run_id}` <{run_link(base_url, dag_id, run_id)}|open the run>" if run_id else "")
            + ". Remaining tasks past the cutoff will be skipped; running statements end at their statement_timeout.")
    await asyncio.to_thread(post_to_slack, conn_id, text)
