"""Slack notice of a waiting approval, with a link to its Required Actions page."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseNotifier


def approval_text(subject: str, body: str | None, link: str, deadline: str | None) -> str:
    """
    >>> print(approval_text("Approve postgres.vacuum_full on main?", "x", "http://ui/ra", "2026-12-06T04:45"))
    :raised_hand: *Approval needed*: Approve postgres.vacuum_full on main?
    Answer in Airflow → Required Actions before 2026-12-06T04:45 (no answer = Reject).
    <http://ui/ra|open the request>
    """
    when = f" before {deadline}" if deadline else ""
    return (f":raised_hand: *Approval needed*: {subject}\n"
            f"Answer in Airflow → Required Actions{when} (no answer = Reject).\n<{link}|open the request>")


class ApprovalSlackNotifier(BaseNotifier):
    """Posts the waiting approval request to Slack (``alerts.slack_conn_id``)."""

    template_fields = ()

    def __init__(self, *, slack_conn_id: str | None = None) -> None:
        super().__init__()
        self.slack_conn_id = slack_conn_id

    def notify(self, context: Any) -> None:
        from airflow.providers.standard.operators.hitl import HITLOperator

        from mercenary_maintenance.notify import post_to_slack, slack_settings

        conn_id, base_url = slack_settings()
        task = context["task"]
        link = HITLOperator.generate_link_to_ui_from_context(context=context, base_url=base_url)
        deadline = getattr(task, "hitl_summary_extra", {}).get("timeout_datetime")
        post_to_slack(self.slack_conn_id or conn_id, approval_text(task.subject, task.body, link, deadline))
