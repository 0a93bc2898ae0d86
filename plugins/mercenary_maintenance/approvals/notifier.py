"""Slack notice of a waiting approval, with a link to its Required Actions page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from mercenary_maintenance.config import MaintenanceConfig  # pydantic: not at DAG parse time


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
    """Posts the waiting approval request to Slack (``alerts.slack_conn_id``).

    The operator hands it the config it loaded (:meth:`use_config`) before asking: the notifier
    reads no config of its own."""

    template_fields = ()

    def __init__(self, *, slack_conn_id: str | None = None) -> None:
        super().__init__()
        self.slack_conn_id = slack_conn_id
        self.cfg: MaintenanceConfig | None = None

    def use_config(self, cfg: MaintenanceConfig) -> None:
        self.cfg = cfg

    def notify(self, context: Any) -> None:
        from airflow.providers.standard.operators.hitl import HITLOperator

        from mercenary_maintenance.notify import post_to_slack

        if self.cfg is None:
            raise RuntimeError("the approval notifier was not given the config (MaintenanceApproval.execute)")
        conn_id, base_url = self.cfg.alerts.slack_conn_id, self.cfg.alerts.base_url
        task = context["task"]
        link = HITLOperator.generate_link_to_ui_from_context(context=context, base_url=base_url)
        deadline = getattr(task, "hitl_summary_extra", {}).get("timeout_datetime")
        post_to_slack(self.slack_conn_id or conn_id, approval_text(task.subject, task.body, link, deadline),
                      self.cfg.timeouts)
