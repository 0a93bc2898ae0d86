"""The emergency request: the trigger form's schema and its run-time validation.

The form (``params()``) is a set of typed ``Param``s with JSON schema, so the UI and the
REST API refuse malformed input before a run exists. :func:`validate` repeats every rule
at run time and adds the ones that depend on the config (configured targets, the ticket
pattern), so a run never acts on a request that the current config would refuse. Every
rejection names the field.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from mercenary_maintenance.config import MaintenanceConfig

# A bare or schema-qualified identifier: what psycopg.sql.Identifier will quote. Quoted
# identifiers (spaces, dots inside a name) are deliberately not accepted from a form.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$")
IDENTIFIER_PATTERN = IDENTIFIER.pattern
SEVERITIES = ("critical", "non_critical")


@dataclass(frozen=True)
class ActionSpec:
    """What an action acts on and which options it takes."""

    kind: str  # "postgres" | "redis": the kind of target it needs
    takes_objects: bool = False
    changes: bool = True  # False for read-only check sets (dry_run does not apply)


ACTIONS: dict[str, ActionSpec] = {
    "vacuum_analyze": ActionSpec("postgres", takes_objects=True),
    "reindex": ActionSpec("postgres", takes_objects=True),
    "vacuum_full": ActionSpec("postgres", takes_objects=True),
    "redis_memory_purge": ActionSpec("redis"),
    "redis_bgrewriteaof": ActionSpec("redis"),
    "backup_full": ActionSpec("postgres"),
    "restore_test": ActionSpec("postgres"),
    "check_set": ActionSpec("postgres", changes=False),  # kind resolved from the check set
}
CHECK_SETS: dict[str, str] = {
    "postgres_daily": "postgres",
    "postgres_weekly": "postgres",
    "postgres_monthly": "postgres",
    "redis_daily": "redis",
}


class InvalidRequest(ValueError):
    """The request is refused; ``field`` names the offending parameter."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class EmergencyRequest:
    action: str
    target: str
    kind: str
    severity: str
    reason: str
    ticket: str
    dry_run: bool
    objects: list[str] = field(default_factory=list)
    check_set: str | None = None
    # Critical requests only: run even when the load guard finds the target busy (recorded).
    ignore_load_guard: bool = False

    @property
    def critical(self) -> bool:
        return self.severity == "critical"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmergencyRequest:
        return cls(**data)

    def describe(self) -> str:
        what = self.check_set if self.action == "check_set" else self.action
        on = f"{self.kind}:{self.target}" + (f" ({', '.join(self.objects)})" if self.objects else "")
        return f"{what} on {on}"


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(name, f"must be a string, got {type(value).__name__}")
    return value.strip()


def _objects(value: Any) -> list[str]:
    if value in (None, "", []):
        return []
    if isinstance(value, str):  # a form may send one name as a string
        value = [value]
    if not isinstance(value, list):
        raise InvalidRequest("objects", f"must be a list of identifiers, got {type(value).__name__}")
    names = [str(v).strip() for v in value if str(v).strip()]
    for name in names:
        if not IDENTIFIER.fullmatch(name):
            raise InvalidRequest("objects", f"{name!r} is not a plain identifier (schema.name, letters, digits, _)")
    return names


def _action(params: dict[str, Any]) -> tuple[str, str, str | None]:
    action = _text(params, "action")
    if action not in ACTIONS:
        raise InvalidRequest("action", f"{action!r} is not one of {sorted(ACTIONS)}")
    check_set = _text(params, "check_set") or None
    if action == "check_set":
        if check_set not in CHECK_SETS:
            raise InvalidRequest("check_set", f"{check_set!r} is not one of {sorted(CHECK_SETS)}")
        return action, CHECK_SETS[check_set], check_set
    if check_set:
        raise InvalidRequest("check_set", f"only used with action 'check_set', not {action!r}")
    return action, ACTIONS[action].kind, None


def validate(params: dict[str, Any], cfg: MaintenanceConfig) -> EmergencyRequest:
    """The request as the run will execute it, or :class:`InvalidRequest` naming the field."""
    action, kind, check_set = _action(params)
    target = _text(params, "target")
    configured = [t.name for t in getattr(cfg.targets, kind)]
    if target not in configured:
        raise InvalidRequest("target", f"{target!r} is not a configured {kind} target (configured: {configured})")
    objects = _objects(params.get("objects"))
    if objects and not ACTIONS[action].takes_objects:
        raise InvalidRequest("objects", f"action {action!r} does not take objects")
    severity = _text(params, "severity")
    if severity not in SEVERITIES:
        raise InvalidRequest("severity", f"{severity!r} is not one of {list(SEVERITIES)}")
    reason = _text(params, "reason")
    if not reason:
        raise InvalidRequest("reason", "is required: say why this cannot wait for the next window")
    ticket = _text(params, "ticket")
    if not re.fullmatch(cfg.emergency.ticket_pattern, ticket):
        pattern = cfg.emergency.ticket_pattern
        raise InvalidRequest("ticket", f"{ticket!r} does not match emergency.ticket_pattern {pattern!r}")
    dry_run = params.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise InvalidRequest("dry_run", f"must be true or false, got {dry_run!r}")
    ignore_load_guard = params.get("ignore_load_guard", False)
    if not isinstance(ignore_load_guard, bool):
        raise InvalidRequest("ignore_load_guard", f"must be true or false, got {ignore_load_guard!r}")
    if ignore_load_guard and severity != "critical":
        raise InvalidRequest("ignore_load_guard", "only a critical request may override the load guard")
    return EmergencyRequest(action=action, target=target, kind=kind, severity=severity, reason=reason,
                            ticket=ticket, dry_run=dry_run, objects=objects, check_set=check_set,
                            ignore_load_guard=ignore_load_guard)


def params() -> dict[str, Any]:
    """The trigger form (``airflow.sdk.Param`` with JSON schema), in display order."""
    from airflow.sdk import Param

    return {
        "action": Param(None, type="string", enum=sorted(ACTIONS), title="Action",
                        description="The maintenance action to run now (the same code as the scheduled DAGs)."),
        "check_set": Param(None, type=["null", "string"], enum=[None, *sorted(CHECK_SETS)], title="Check set",
                           description="Only for action check_set: which set of checks to run."),
        "target": Param(None, type="string", minLength=1, title="Target",
                        description="Name of a configured target (targets.postgres / targets.redis in the config)."),
        "objects": Param([], type="array", items={"type": "string", "pattern": IDENTIFIER_PATTERN},
                         title="Objects",
                         description="Optional tables/indexes (one per line, optionally schema.name). "
                                     "Empty: the action's default selection."),
        "severity": Param("non_critical", type="string", enum=list(SEVERITIES), title="Severity",
                          description="critical acts at once; non_critical posts a Slack notice and waits "
                                      "emergency.notice_minutes (default 60) before acting."),
        "reason": Param(None, type="string", minLength=1, title="Reason",
                        description="Why this cannot wait for the next maintenance window (goes into the report)."),
        "ticket": Param(None, type="string", minLength=1, title="Ticket",
                        description="Change/incident ticket, e.g. OPS-123 (pattern: emergency.ticket_pattern)."),
        "dry_run": Param(True, type="boolean", title="Dry run",
                         description="Default: only report what would be done. Untick to act."),
        "ignore_load_guard": Param(False, type="boolean", title="Ignore load guard (critical only)",
                                   description="Act even when the target is busy (active sessions, replica lag, "
                                               "a hot table for VACUUM FULL). Recorded in the report."),
    }
