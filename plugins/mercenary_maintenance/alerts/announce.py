"""After a run's report is written: its findings that need attention go to Slack.

``write_report`` (``report.finalize``, core) hands the written report to :func:`announce_run`,
which the wiring (``dagkit.write_report``) passes in: through the alert state for the DAGs in
``alerts.stateful_findings`` (:mod:`~mercenary_maintenance.alerts.findings`), otherwise one
message per run (``alerts.notify_findings``), delivered with retries.
"""

from __future__ import annotations

import logging
from typing import Any

from mercenary_maintenance import delivery
from mercenary_maintenance.alerts.findings import announce_findings, policy
from mercenary_maintenance.config import MaintenanceConfig
from mercenary_maintenance.findings import Severity

log = logging.getLogger(__name__)

# DAGs that notify through the alert state machine (for-duration, dedup, escalation) instead.
SELF_ALERTING = frozenset({"alert_evaluation"})
# The weekly digest names the plan items nothing is configured for, once a week.
DIGEST_DAG = "maintenance_weekly"


def not_configured_lines(cfg: MaintenanceConfig) -> list[str]:
    """One line per inert plan task (``switches``), each named once.

    >>> lines = not_configured_lines(MaintenanceConfig())
    >>> wanted = "• log error review: set `logs.error_scan`"
    >>> lines[0].startswith(":large_yellow_circle: Not configured"), wanted in lines, lines.count(wanted)
    (True, True, 1)
    """
    from mercenary_maintenance import switches

    off = switches.off_switches(cfg)
    if not off:
        return []
    seen = dict.fromkeys(f"• {s.what}: set `{s.key}`" for s in off)
    return [f":large_yellow_circle: Not configured (do nothing under this config; `python -m "
            f"mercenary_maintenance.doctor` says how to turn each on) — {len(seen)}:", *seen]


def announce_run(cfg: MaintenanceConfig, report: dict[str, Any]) -> None:
    """Post the run's findings that need attention to Slack (after the report is safe).

    Delivery is retried; if Slack stays down the task fails and its retry posts again
    (the report itself is already written, a retry only adds an attempt file)."""
    from mercenary_maintenance.notify import findings_notice, run_link

    if report["dag_id"] in SELF_ALERTING:
        return
    if report["dag_id"] in cfg.alerts.stateful_findings:
        if report["status"] != "failed":  # a failed run is announced by the failure notifier
            announce_findings(cfg, report, run_link(cfg.alerts.base_url, report["dag_id"], report["run_id"]))
        return
    levels = policy(cfg)

    def incident(check: str, severity: str) -> str:
        level = levels.incident_level(check, Severity.CRITICAL if severity == "critical" else Severity.WARNING)
        return f"{level.name}, respond within {level.response_text}"

    link = run_link(cfg.alerts.base_url, report["dag_id"], report["run_id"])
    text = findings_notice(report, cfg.alerts.notify_findings, link, incident=incident)
    if report["dag_id"] == DIGEST_DAG and report["status"] != "failed":
        inert = not_configured_lines(cfg)
        if inert and text is None:
            # Digest only (nothing needs attention): informational, so an unreachable or unset Slack
            # is logged and does not fail the run; the report keeps its "Not configured" section.
            head = (f"*{report['dag_id']}* run `{report['run_id']}` finished *{report['status']}*"
                    f" — <{link}|open the run>")
            try:
                delivery.post(cfg, "\n".join([head, *inert]), "weekly not-configured digest")
            except delivery.NotDelivered as exc:
                log.warning("%s (the report lists the same items)", exc)
            return
        if inert and text is not None:
            text = "\n".join([text, *inert])
    if text is None:
        return
    delivery.post(cfg, text, "Slack notice of the run's findings")
