"""The Slack notice of an emergency run and the moment it may act (pure functions)."""

from __future__ import annotations

from datetime import datetime, timedelta

from mercenary_maintenance.emergency.request import EmergencyRequest
from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.redact import slack_escape


def act_after(request: EmergencyRequest, now: datetime, notice_minutes: float) -> datetime:
    """Critical requests and dry runs act at once; others wait the notice period."""
    if request.critical or request.dry_run:
        return now
    return now + timedelta(minutes=notice_minutes)


POST_HOC = "needs post-hoc review"


def post_hoc_review(request: EmergencyRequest, user: str | None) -> Finding:
    """A critical run acts without notice or approval: the report flags it for review afterwards."""
    return Finding("emergency.post_hoc_review", request.target, Severity.WARNING,
                   f"critical emergency run acted without notice period or approval: {POST_HOC} "
                   f"({request.describe()}, by {user or 'unknown'}, ticket {request.ticket})",
                   details={"post_hoc_review": True, "ticket": request.ticket, "user": user})


def notice_text(request: EmergencyRequest, *, user: str | None, when: datetime, link: str,
                approval: bool = False) -> str:
    """The Slack message: what, where, who, why, ticket, when, and how to cancel.

    What the requester typed (reason, ticket, objects, user) is escaped for Slack mrkdwn: it is
    shown, never acted on (no ``<!channel>`` ping, no disguised link)."""
    start = "on approval" if approval else "now"
    head = (f":rotating_light: *Emergency maintenance (critical) starting {start}* — {POST_HOC}" if request.critical
            else f":warning: *Emergency maintenance scheduled at {when.strftime('%Y-%m-%d %H:%M UTC')}*")
    if approval:
        head += (f" — waiting for an approval in Airflow → Required Actions (no answer = Reject): "
                 f"{request.approval or 'required'}")
    lines = [
        head,
        f"*What:* {slack_escape(request.describe())}",
        f"*Requested by:* {slack_escape(user or 'unknown')} — ticket {slack_escape(request.ticket)}",
        f"*Reason:* {slack_escape(request.reason)}",
    ]
    if not request.critical:
        lines.append("To cancel: mark the task `wait_notice_period` failed (or skipped) in the run before then.")
    lines.append(f"<{link}|open the run>")
    return "\n".join(lines)
