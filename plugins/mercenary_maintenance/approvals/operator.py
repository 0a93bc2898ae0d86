"""The approval gate: an ``ApprovalOperator`` that decides at run time whether to ask.

The config is read when the task runs, so every DAG that can need an approval always has
the gate before the action. At run time the gate

* returns at once (recorded: ``approval.<kind>`` done, "not required" / "nothing to
  approve") when ``approvals.required_for`` does not list the kind or nothing needs asking;
* otherwise writes the Required Actions request (subject and body from the preview item:
  what, size, lock, estimate, rollback), limited to ``approvals.approvers``, posts it to
  Slack, and waits in ``awaiting_input`` — no worker and no pool slot held — until an
  answer or the timeout, which resolves to **Reject** (``defaults=["Reject"]``).

On the answer it records the ``approvals`` entries (who, when, the choice, timed out) and,
on Reject, a skipped action per item; the operator then skips the gated task (its direct
downstream, which must use the default ``all_success`` trigger rule).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

from mercenary_maintenance.approvals import gate
from mercenary_maintenance.approvals.notifier import ApprovalSlackNotifier

ITEMS_XCOM = "approval_items"
KINDS = ("vacuum_full", "reindex_blocking", "retention_delete", "emergency_non_critical")
# Placeholder until run time (a HITL operator without one would turn an execution_timeout
# from default_args into its response timeout).
INITIAL_RESPONSE_TIMEOUT = timedelta(hours=24)


class MaintenanceApproval(ApprovalOperator):  # type: ignore[misc]
    """Ask for an approval of ``kind`` when the config requires it and there is something to approve."""

    def __init__(self, *, kind: str, **kwargs: Any) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        kwargs.setdefault("retries", 0)  # a retry would ask again
        super().__init__(subject=f"Approve {kind}?", defaults=[gate.REJECT], notifiers=[ApprovalSlackNotifier()],
                         response_timeout=INITIAL_RESPONSE_TIMEOUT, **kwargs)
        self.kind = kind

    # -- what to ask -------------------------------------------------------------
    def _items(self, cfg: Any, context: Any, run: Any) -> tuple[list[dict[str, Any]], str | None]:
        from mercenary_maintenance.approvals import items

        if self.kind == "emergency_non_critical":
            request = context["ti"].xcom_pull(task_ids="validate_request")
            return items.emergency(cfg, request)
        if self.kind == "retention_delete":
            return items.retention_delete(cfg)
        if self.kind == "vacuum_full":
            wanted = any(t.vacuum_full_tables for t in cfg.targets.postgres)
            return items.vacuum_full(cfg, _preview_plan(cfg, run) if wanted else [])
        return [], "nothing to approve: no action of this build takes a blocking REINDEX"

    def execute(self, context: Any) -> Any:
        from mercenary_maintenance.config import load_config
        from mercenary_maintenance.runinfo import from_context
        from mercenary_maintenance.windows.rules import UTC

        cfg = load_config()
        run = from_context(context, cfg.windows.cutoff_minutes.get(context["dag_run"].dag_id))
        now = datetime.now(UTC)
        if run.past_cutoff(now):
            from airflow.sdk.exceptions import AirflowSkipException

            # Nothing may start now: ask nobody; the guarded action is skipped with this task.
            self._record(cfg, run, now, [], chosen=gate.REJECT, user=None, timed_out=False,
                         note="past the window cutoff: not asked, the action will not start")
            raise AirflowSkipException("past the window cutoff: no approval asked")
        found, reason = self._items(cfg, context, run)
        # An emergency request says itself whether it needs an approval (and which rule asks).
        if found and self.kind != "emergency_non_critical" and not gate.required(cfg, self.kind):
            reason = f"not required: approvals.required_for does not list {self.kind}"
        if reason is not None:
            self._record(cfg, run, now, found, chosen=gate.APPROVE, user=None, timed_out=False, note=reason)
            self.log.info("no approval asked: %s", reason)
            return {"chosen_options": [gate.APPROVE], "asked": False, "reason": reason}
        trigger = gate.triggering_user(cfg, run)
        assigned = gate.assigned_users(cfg, excluding=trigger)
        if cfg.approvals.approvers and not assigned:
            from airflow.sdk.exceptions import AirflowSkipException

            note = (f"refused: only {trigger} may approve, who triggered this run "
                    "(approvals.separation_of_duties): the action will not start")
            self._record(cfg, run, now, found, chosen=gate.REJECT, user=None, timed_out=False, note=note)
            raise AirflowSkipException(note)
        wait = gate.timeout(cfg, run.window, run.cutoff, now)
        self.subject, self.body = gate.subject_body(self.kind, found, now + wait)
        if trigger:
            self.body += (f"\n\n{trigger} triggered this run and may not approve it "
                          "(approvals.separation_of_duties): such an answer counts as Reject.")
        self.assigned_users = assigned  # type: ignore[assignment]  # HITLUser is this TypedDict
        self.response_timeout = wait
        context["ti"].xcom_push(key=ITEMS_XCOM, value=found)
        for notifier in self.notifiers:
            if isinstance(notifier, ApprovalSlackNotifier):
                notifier.use_config(cfg)  # the config this run loaded: the notifier reads none
        self.log.info("asking for approval of %s (%d item(s)), timeout %s", self.kind, len(found), wait)
        return super().execute(context)

    # -- the answer ----------------------------------------------------------------
    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from mercenary_maintenance.config import load_config
        from mercenary_maintenance.runinfo import from_context
        from mercenary_maintenance.windows.rules import UTC

        cfg = load_config()
        run = from_context(context, cfg.windows.cutoff_minutes.get(context["dag_run"].dag_id))
        found = context["ti"].xcom_pull(task_ids=self.task_id, key=ITEMS_XCOM,
                                        map_indexes=context["ti"].map_index) or []
        timed_out = bool(event.get("timedout")) or event.get("error_type") == "timeout"
        chosen = (event.get("chosen_options") or [gate.REJECT])[0] if "error" not in event else gate.REJECT
        user = event.get("responded_by_user") or {}
        at = event.get("responded_at")
        moment = at if isinstance(at, datetime) else datetime.now(UTC)
        who = user.get("name") or user.get("id")
        note = "timed out: resolved to Reject" if timed_out else None
        trigger = gate.triggering_user(cfg, run)
        if chosen == gate.APPROVE and trigger and trigger in (user.get("name"), user.get("id")):
            # HITL can limit who answers to a list, not exclude one person: refuse it here.
            chosen = gate.REJECT
            note = (f"refused: {trigger} triggered this run and may not approve it "
                    "(approvals.separation_of_duties)")
            event = {**event, "chosen_options": [gate.REJECT]}
        self._record(cfg, run, moment, found, chosen=chosen, user=who, timed_out=timed_out, note=note)
        if "error" in event:  # no defaults reached the task: treat as Reject, never as approval
            from airflow.providers.standard.exceptions import HITLTimeoutError

            raise HITLTimeoutError(event)
        return super().execute_complete(context=context, event=event)

    def _record(self, cfg: Any, run: Any, moment: datetime, found: list[dict[str, Any]], *, chosen: str,
                user: str | None, timed_out: bool, note: str | None) -> None:
        from mercenary_maintenance.findings import Action, ActionStatus
        from mercenary_maintenance.steps import Step, store_step

        step = Step(cfg, run)
        at = moment.isoformat()
        step.report_keys["approvals"] = gate.entries(self.task_id, found, chosen=chosen, user=user, at=at,
                                                     timed_out=timed_out, note=note)
        asked = note is None or timed_out
        if chosen == gate.APPROVE:
            message = note or f"approved by {user or 'unknown'} at {at}"
            step.actions.append(Action(f"approval.{self.kind}", run.dag_id, ActionStatus.DONE, message,
                                       details={"asked": asked, "items": len(found)}))
        else:
            why = (f"not approved: no answer by {at}, resolved to Reject" if timed_out
                   else note or f"not approved: rejected by {user or 'unknown'} at {at}")
            step.actions.append(Action(f"approval.{self.kind}", run.dag_id, ActionStatus.SKIPPED, why,
                                       details={"asked": True, "items": len(found)}))
            for item in found:
                step.actions.append(Action(item["action"], item["target"], ActionStatus.SKIPPED, why,
                                           details={"objects": item.get("objects", []), "approval": self.task_id}))
        store_step(step, at)


def _preview_plan(cfg: Any, run: Any) -> list[dict[str, Any]]:
    from mercenary_maintenance.report.planned import latest_preview
    from mercenary_maintenance.report.store import store_for

    start = run.window.start.isoformat() if run.window else None
    preview, window_start = latest_preview(store_for(cfg), run.dag_id, start)
    if preview is None:
        return []
    return [p for p in preview.get("plan", [])
            if p["window_dag_id"] == run.dag_id and p["window_start"] == window_start]


def approval_gate(kind: str, **kwargs: Any) -> MaintenanceApproval:
    """The gate task (``approve_<kind>``) to put right before the action it guards."""
    return MaintenanceApproval(task_id=f"approve_{kind}", kind=kind,
                               doc_md=f"Approval of {kind} (approvals.required_for); no answer in time = Reject.",
                               **kwargs)
