"""Bodies of the emergency DAG's tasks: validate the form, post the notice, act.

The catalog and the routes (what may be requested, and the functions that do it) are handed in
by the task declarations from :mod:`mercenary_maintenance.wiring.registry`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mercenary_maintenance import delivery
from mercenary_maintenance.emergency import dispatch, notice
from mercenary_maintenance.emergency.request import Catalog, EmergencyRequest, validate
from mercenary_maintenance.notify import run_link
from mercenary_maintenance.windows.rules import UTC

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def validate_body(step: Step, catalog: Catalog) -> dict[str, Any]:
    """Validate the trigger form against the schema and the current config (names the field).

    Returns the accepted request (as a dict); an invalid one fails the action, naming the field."""
    target = str(step.run.params.get("target") or "-")
    accepted: dict[str, Any] = {}
    with step.action("emergency.request", target, why=str(step.run.params.get("reason") or "")) as act:
        request = validate(step.run.params, step.cfg, catalog)
        accepted = request.to_dict()
        mode = ", dry run" if request.dry_run else ""
        act.done(f"accepted: {request.describe()} ({request.severity}{mode})", **accepted)
    return accepted


def notice_body(step: Step, request: dict[str, Any]) -> str:
    """Announce the run on Slack; return the ISO moment it may act."""

    req = EmergencyRequest.from_dict(request)
    mode = step.cfg.emergency.mode
    # emergency.mode: "approval" alone has no notice period; "notice"/"both" wait it out.
    minutes = 0.0 if mode == "approval" else step.cfg.emergency.notice_minutes
    when = notice.act_after(req, datetime.now(UTC), minutes)
    user = (step.run.triggered_by or {}).get("user")
    approval = req.approval is not None
    text = notice.notice_text(req, user=user, when=when,
                              link=run_link(step.cfg.alerts.base_url, step.run.dag_id, step.run.run_id),
                              approval=approval)
    if req.critical and not req.dry_run:
        step.add(notice.post_hoc_review(req, user))
    with step.action("emergency.notice", req.target, why=req.reason, act_after=when.isoformat()) as act:
        if req.dry_run:
            act.dry_run("dry run: no notice posted, no wait", act_after=when.isoformat())
            return when.isoformat()
        try:
            if req.critical:
                # one attempt: a critical run does not wait
                delivery.post(step.cfg, text, "the emergency notice", attempts=1)
            else:
                delivery.post(step.cfg, text, "the emergency notice")  # retried within alerts.slack_send_budget_seconds
        except Exception as exc:
            if not req.critical:
                raise  # the notice is the safety of a non-critical run: no notice, no action
            # A critical request must not wait on Slack: act, and say so in the report.
            act.skipped(f"Slack notice not posted ({type(exc).__name__}); critical requests do not wait")
            return when.isoformat()
        act.done(f"notice posted on {step.cfg.alerts.slack_conn_id}; acting at {when.isoformat()}",
                 act_after=when.isoformat())
    return when.isoformat()


def act_body(step: Step, request: dict[str, Any], actions: Mapping[str, Any], check_sets: Mapping[str, Any]) -> None:
    """Run the requested action with the scheduled DAGs' implementation."""
    dispatch.execute(step, EmergencyRequest.from_dict(request), actions, check_sets)


def act_critical_body(step: Step, request: dict[str, Any], actions: Mapping[str, Any],
                      check_sets: Mapping[str, Any]) -> None:
    """Run a critical request's action, in a pool of its own (never behind a dump in the heavy pool).

    The same action as :func:`act_body`; only the task (its pool) differs."""
    act_body(step, request, actions, check_sets)
