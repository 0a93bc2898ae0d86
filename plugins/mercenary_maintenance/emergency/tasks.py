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

from mercenary_maintenance import registry
from mercenary_maintenance.dagkit import HEAVY_POOL, approval_gate
from mercenary_maintenance.emergency import request as form
from mercenary_maintenance.emergency.request import Catalog, EmergencyRequest

__all__ = ["CATALOG", "build", "form_params", "validate"]
WAIT_TASK_ID = "wait_notice_period"
# What the form offers and validation accepts: the registry's actions and check sets.
CATALOG = Catalog.from_registry(registry.ACTIONS, registry.CHECK_SETS)


def form_params() -> dict[str, Any]:
    """The trigger form; its action and check-set enums come from the registry."""
    return form.params(CATALOG)


def validate(params: dict[str, Any], cfg: Any) -> EmergencyRequest:
    """Validate a request against the registry's catalog and the config (names the field)."""
    return form.validate(params, cfg, CATALOG)


@task(task_id="validate_request", retries=0)
def validate_request() -> dict[str, Any]:
    """Validate the trigger form against the schema and the current config (names the field)."""
    from mercenary_maintenance.emergency.flow import validate_body
    from mercenary_maintenance.steps import execute_step

    accepted: dict[str, Any] = execute_step(lambda step: validate_body(step, CATALOG))["result"]
    return accepted


@task(task_id="post_notice", retries=0)
def post_notice(request: dict[str, Any]) -> str:
    """Announce the run on Slack; return the ISO moment it may act."""
    from mercenary_maintenance.emergency.flow import notice_body
    from mercenary_maintenance.steps import execute_step

    return str(execute_step(lambda step: notice_body(step, request))["result"])


@task(task_id="act", pool=HEAVY_POOL, retries=0)
def act(request: dict[str, Any]) -> dict[str, Any]:
    """Run the requested action with the scheduled DAGs' implementation."""
    from mercenary_maintenance.emergency.flow import act_body
    from mercenary_maintenance.steps import execute_step

    return execute_step(lambda step: act_body(step, request, registry.ACTIONS, registry.CHECK_SETS))
def build() -> None:
    """Wire the emergency DAG's tasks (the DAG file passes ``form_params()`` as params)."""
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
