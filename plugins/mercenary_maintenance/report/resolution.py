"""Findings fixed by the run itself (docs/report.md ``resolved_by``).

A check that measures a problem (dead tuples, index bloat) runs before the action that fixes
it (VACUUM, REINDEX); the action's task measures the same check again and records that
finding with ``details.after_action``. Here the two are joined: the finding made before keeps
its severity (what was found) and gains ``after_maintenance`` (the state after the action)
and — when the action brought it back to ``ok`` — ``resolved_by: {action, value_after}``.
The re-measured finding itself is folded into it. The run's status uses the state after
maintenance (:func:`effective_severity`).
"""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.findings import Severity

AFTER_ACTION = "after_action"


def effective_severity(finding: dict[str, Any]) -> str:
    """The severity after the run's maintenance where it was measured again, else as found.

    >>> effective_severity({"severity": "critical", "after_maintenance": {"severity": "ok"}})
    'ok'
    >>> effective_severity({"severity": "warning"})
    'warning'
    """
    after = finding.get("after_maintenance")
    return str(after["severity"]) if isinstance(after, dict) and "severity" in after else str(finding["severity"])


def _after_action(finding: dict[str, Any]) -> str | None:
    details = finding.get("details") or {}
    value = details.get(AFTER_ACTION)
    return str(value) if value else None


def fold_remeasured(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join each re-measured finding to the finding of the same check and target made before.

    >>> before = {"check": "postgres.dead_tuples", "target": "main", "severity": "critical", "value": 75.0,
    ...           "details": {}}
    >>> after = {"check": "postgres.dead_tuples", "target": "main", "severity": "ok", "value": 0.0,
    ...          "message": "no table has 1000 or more dead tuples",
    ...          "details": {"after_action": "postgres.vacuum_analyze"}}
    >>> [f] = fold_remeasured([before, after])
    >>> f["severity"], f["resolved_by"]
    ('critical', {'action': 'postgres.vacuum_analyze', 'value_after': 0.0})
    >>> fold_remeasured([after])[0]["severity"]  # nothing measured before (e.g. an emergency run): kept
    'ok'
    """
    out: list[dict[str, Any]] = []
    firsts: dict[tuple[str, str], dict[str, Any]] = {}
    remeasured: list[dict[str, Any]] = []
    for finding in findings:
        if _after_action(finding):
            remeasured.append(finding)
            continue
        item = dict(finding)
        firsts.setdefault((item["check"], item["target"]), item)
        out.append(item)
    for after in remeasured:
        before = firsts.get((after["check"], after["target"]))
        if before is None:
            out.append(after)
            continue
        action = _after_action(after)
        before["after_maintenance"] = {"action": action, "severity": after["severity"], "value": after.get("value"),
                                       "message": after.get("message", "")}
        fixed = Severity.parse(after["severity"]) is Severity.OK
        if fixed and Severity.parse(before["severity"]) is not Severity.OK:
            before["resolved_by"] = {"action": action, "value_after": after.get("value")}
    return out
