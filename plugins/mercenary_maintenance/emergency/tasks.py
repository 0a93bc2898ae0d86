"""Tasks of the ``emergency_maintenance`` DAG (manual only).

``validate_request`` → ``post_notice`` → ``wait_notice_period`` + ``approve_emergency_non_critical``
→ ``act`` (→ ``write_report``).

* ``validate_request`` refuses a request the current config would refuse (the field is
  named); nothing downstream runs.
* ``post_notice`` posts the Slack notice (non-critical: "acting at …, how to cancel";
  critical: "starting now") and returns the moment the run may act.
* ``wait_notice_period`` is a deferrable sensor up to that moment (immediate for critical
  requests and dry runs). Marking it failed or skipped cancels the action.
* ``act`` calls the same implementation as the scheduled DAGs, in the heavy pool.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

from mercenary_maintenance.dagkit import HEAVY_POOL
from mercenary_maintenance.emergency.request import params as form_params

__all__ = ["build", "form_params"]
WAIT_TASK_ID = "wait_notice_period"


@task(task_id="validate_request", retries=0)
def validate_request() -> dict[str, Any]:
    """Validate the trigger form against the schema and the current config (names the field)."""
    from mercenary_maintenance.emergency.request import validate
    from mercenary_maintenance.steps import Step, execute_step

    accepted: dict[str, Any] = {}

    def body(step: Step) -> None:
        target = str(step.run.params.get("target") or "-")
        with step.action("emergency.request", target, why=str(step.run.params.get("reason") or "")) as act:
            request = validate(step.run.params, step.cfg)
            accepted.update(request.to_dict())
            mode = ", dry run" if request.dry_run else ""
            act.done(f"accepted: {request.describe()} ({request.severity}{mode})", **request.to_dict())

    execute_step(body)
    return accepted


@task(task_id="post_notice", retries=0)
def post_notice(request: dict[str, Any]) -> str:
    """Announce the run on Slack; return the ISO moment it may act."""
    from datetime import datetime

    from mercenary_maintenance.emergency import notice
    from mercenary_maintenance.emergency.request import EmergencyRequest
    from mercenary_maintenance.notify import post_to_slack, run_link
    from mercenary_maintenance.steps import Step, execute_step
    from mercenary_maintenance.windows.rules import UTC

    req = EmergencyRequest.from_dict(request)
    moment: list[datetime] = []

    def body(step: Step) -> None:
        mode = step.cfg.emergency.mode
        # emergency.mode: "approval" alone has no notice period; "notice"/"both" wait it out.
        minutes = 0.0 if mode == "approval" else step.cfg.emergency.notice_minutes
        when = notice.act_after(req, datetime.now(UTC), minutes)
        moment.append(when)
        user = (step.run.triggered_by or {}).get("user")
        approval = (not req.critical and mode != "notice"
                    and "emergency_non_critical" in step.cfg.approvals.required_for)
        text = notice.notice_text(req, user=user, when=when,
                                  link=run_link(step.cfg.alerts.base_url, step.run.dag_id, step.run.run_id),
                                  approval=approval)
        if req.critical and not req.dry_run:
            step.add(notice.post_hoc_review(req, user))
        with step.action("emergency.notice", req.target, why=req.reason, act_after=when.isoformat()) as act:
            if req.dry_run:
                act.dry_run("dry run: no notice posted, no wait", act_after=when.isoformat())
                return
            try:
                post_to_slack(step.cfg.alerts.slack_conn_id, text)
            except Exception as exc:
                if not req.critical:
                    raise  # the notice is the safety of a non-critical run: no notice, no action
                # A critical request must not wait on Slack: act, and say so in the report.
                act.skipped(f"Slack notice not posted ({type(exc).__name__}); critical requests do not wait")
                return
            act.done(f"notice posted on {step.cfg.alerts.slack_conn_id}; acting at {when.isoformat()}",
                     act_after=when.isoformat())

    execute_step(body)
    return moment[0].isoformat()


@task(task_id="act", pool=HEAVY_POOL, retries=0)
def act(request: dict[str, Any]) -> dict[str, Any]:
    """Run the requested action with the scheduled DAGs' implementation."""
    from mercenary_maintenance.emergency import dispatch
    from mercenary_maintenance.emergency.request import EmergencyRequest
    from mercenary_maintenance.steps import Step, execute_step

    req = EmergencyRequest.from_dict(request)

    def body(step: Step) -> None:
        dispatch.execute(step, req)

    return execute_step(body)


def build() -> None:
    """Wire the emergency DAG's tasks (the DAG file passes ``form_params()`` as params)."""
    from mercenary_maintenance.approvals.operator import approval_gate
    from mercenary_maintenance.emergency.wait import NoticeWaitSensor

    request: Any = validate_request()  # an XComArg: the accepted request as a dict
    moment = post_notice(request)
    wait = NoticeWaitSensor(
        task_id=WAIT_TASK_ID,
        target_time="{{ ti.xcom_pull(task_ids='post_notice') }}",
        retries=0,
        doc_md="Deferred until the notice period ends. Mark failed or skipped to cancel the action.",
    )
    # emergency.mode approval|both: a non-critical request also waits for an approval (the gate
    # returns at once for critical requests, dry runs and mode notice). Reject/timeout skip `act`.
    approval = approval_gate("emergency_non_critical")
    acting = act(request)
    moment >> [wait, approval]
    [wait, approval] >> acting
