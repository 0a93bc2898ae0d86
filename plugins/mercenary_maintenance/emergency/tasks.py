"""Tasks of the ``emergency_maintenance`` DAG (manual only).

``validate_request`` → ``post_notice`` → ``wait_notice_period`` + ``approve_emergency_non_critical``
→ ``choose_pool`` → ``act`` | ``act_critical`` (→ ``write_report``).

* ``validate_request`` refuses a request the current config would refuse (the field is
  named); nothing downstream runs.
* ``post_notice`` posts the Slack notice (non-critical: "acting at …, how to cancel";
  critical: "starting now") and returns the moment the run may act.
* ``wait_notice_period`` is a deferrable sensor up to that moment (immediate for critical
  requests and dry runs). Marking it failed or skipped cancels the action.
* ``approve_emergency_non_critical`` waits for an approval when the request needs one (a
  non-critical run under ``emergency.mode`` approval|both or in a change freeze; any run of an
  exclusive-lock action such as VACUUM FULL, critical included).
* ``act`` calls the same implementation as the scheduled DAGs, in the heavy pool;
  ``act_critical`` does the same for a critical request in ``maintenance_critical``, a 1-slot pool
  of its own, so an immediate action never queues behind a dump (``choose_pool`` picks one).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from airflow.sdk import task

from mercenary_maintenance.emergency import request as form
from mercenary_maintenance.emergency.bodies import act_body, act_critical_body, notice_body, validate_body
from mercenary_maintenance.emergency.request import Catalog, EmergencyRequest
from mercenary_maintenance.emergency.wait import NoticeWaitSensor
from mercenary_maintenance.wiring import registry
from mercenary_maintenance.wiring.dagkit import CRITICAL_POOL, HEAVY_POOL, TaskSpec, approval_gate

__all__ = ["CATALOG", "build", "form_params", "validate"]
WAIT_TASK_ID = "wait_notice_period"
# What the form offers and validation accepts: the registry's actions and check sets.
CATALOG = Catalog.from_registry(registry.ACTIONS, registry.CHECK_SETS)


def form_params() -> dict[str, Any]:
    """The trigger form; its action and check-set enums come from the registry."""
    return form.params(CATALOG)


def validate(params: dict[str, Any], cfg: Any, now: datetime | None = None) -> EmergencyRequest:
    """Validate a request against the registry's catalog and the config (names the field)."""
    return form.validate(params, cfg, CATALOG, now)


ACT_TASK_ID, CRITICAL_TASK_ID = "act", "act_critical"
VALIDATE = TaskSpec("validate_request", partial(validate_body, catalog=CATALOG), retries=0, returns_result=True)
NOTICE = TaskSpec("post_notice", notice_body, takes=True, retries=0, returns_result=True)
ACT = TaskSpec(ACT_TASK_ID, partial(act_body, actions=registry.ACTIONS, check_sets=registry.CHECK_SETS),
               takes=True, pool=HEAVY_POOL, retries=0)
ACT_CRITICAL = TaskSpec(CRITICAL_TASK_ID, partial(act_critical_body, actions=registry.ACTIONS,
                                                  check_sets=registry.CHECK_SETS),
                        takes=True, pool=CRITICAL_POOL, retries=0)


@task.branch(task_id="choose_pool", retries=0)
def choose_pool(request: dict[str, Any]) -> str:
    """Critical requests act in their own 1-slot pool (maintenance_critical), others in the heavy pool."""
    return CRITICAL_TASK_ID if request.get("severity") == "critical" else ACT_TASK_ID


def build() -> None:
    """Wire the emergency DAG's tasks (the DAG file passes ``form_params()`` as params)."""

    request: Any = VALIDATE.add()  # an XComArg: the accepted request as a dict
    moment = NOTICE.add(request)
    wait = NoticeWaitSensor(
        task_id=WAIT_TASK_ID,
        target_time="{{ ti.xcom_pull(task_ids='post_notice') }}",
        retries=0,
        doc_md="Deferred until the notice period ends. Mark failed or skipped to cancel the action.",
    )
    # The gate waits when the request needs an approval (request.approval_reason: a non-critical run
    # under emergency.mode approval|both or in a freeze, an exclusive-lock action even if critical);
    # it returns at once otherwise. Reject/timeout skip choose_pool, and with it both act tasks.
    approval = approval_gate("emergency_non_critical")
    route = choose_pool(request)
    moment >> [wait, approval]
    [wait, approval] >> route
    route >> [ACT.add(request), ACT_CRITICAL.add(request)]
