"""The emergency request: the trigger form's schema and its run-time validation.

The form (``params()``) is a set of typed ``Param``s with JSON schema, so the UI and the
REST API refuse malformed input before a run exists. :func:`validate` repeats every rule
at run time and adds the ones that depend on the config (configured targets, the ticket
pattern), so a run never acts on a request that the current config would refuse. Every
rejection names the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from mercenary_maintenance.config import MaintenanceConfig
from mercenary_maintenance.guards import freeze_at

# A bare or schema-qualified identifier: what psycopg.sql.Identifier will quote. Quoted
# identifiers (spaces, dots inside a name) are deliberately not accepted from a form.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$")
IDENTIFIER_PATTERN = IDENTIFIER.pattern
SEVERITIES = ("critical", "non_critical")


# The form's "check_set" action runs one of the registry's check sets (its kind comes from the set).
CHECK_SET = "check_set"


@dataclass(frozen=True)
class Catalog:
    """What may be requested: action → (target kind, takes objects), check set → target kind.

    Built from :mod:`mercenary_maintenance.wiring.registry` by the emergency task declarations, so this
    module (and its validation) never imports another area."""

    actions: dict[str, tuple[str, bool]]
    check_sets: dict[str, str]
    # Exclusive-lock actions (VACUUM FULL): opt-in tables only, and an approval even when critical.
    exclusive: frozenset[str] = frozenset()

    @classmethod
    def from_registry(cls, actions: Mapping[str, Any], check_sets: Mapping[str, Any]) -> Catalog:
        return cls({name: (r.kind, r.takes_objects) for name, r in actions.items()},
                   {name: r.kind for name, r in check_sets.items()},
                   frozenset(name for name, r in actions.items() if getattr(r, "exclusive", False)))

    @property
    def form_actions(self) -> list[str]:
        return sorted([*self.actions, CHECK_SET])


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
    # An exclusive-lock action (ACCESS EXCLUSIVE): its objects are the target's opt-in list.
    exclusive: bool = False
    # Why this run waits for an approval before acting (None: it does not), decided at validation.
    approval: str | None = None

    @property
    def critical(self) -> bool:
        return self.severity == "critical"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmergencyRequest:
        return cls(**data)

    def describe(self) -> str:
        what = self.check_set if self.action == CHECK_SET else self.action
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


def _action(params: dict[str, Any], catalog: Catalog) -> tuple[str, str, str | None]:
    action = _text(params, "action")
    if action not in catalog.form_actions:
        raise InvalidRequest("action", f"{action!r} is not one of {catalog.form_actions}")
    check_set = _text(params, "check_set") or None
    if action == CHECK_SET:
        if check_set not in catalog.check_sets:
            raise InvalidRequest("check_set", f"{check_set!r} is not one of {sorted(catalog.check_sets)}")
        return action, catalog.check_sets[check_set], check_set
    if check_set:
        raise InvalidRequest("check_set", f"only used with action 'check_set', not {action!r}")
    return action, catalog.actions[action][0], None


def _qualified(name: str) -> str:
    """``public.`` added to a bare table name (how the opt-in list and a request are compared)."""
    return name if "." in name else f"public.{name}"


def _opted_in(cfg: MaintenanceConfig, action: str, target: str, objects: list[str]) -> None:
    """An exclusive-lock action only ever acts on the target's opt-in tables (vacuum_full_tables),
    whoever asks and however urgent: refuse anything else, naming the list."""
    allowed = list(cfg.postgres_target(target).vacuum_full_tables)
    if not allowed:
        raise InvalidRequest("objects", f"{action} takes an ACCESS EXCLUSIVE lock and is opt-in: target "
                                        f"{target!r} lists no table in vacuum_full_tables")
    outside = [o for o in objects if _qualified(o) not in {_qualified(a) for a in allowed}]
    if outside:
        raise InvalidRequest("objects", f"{outside} not in target {target!r}'s vacuum_full_tables {allowed}: "
                                        f"{action} takes an ACCESS EXCLUSIVE lock and is opt-in")


def approval_reason(cfg: MaintenanceConfig, request: EmergencyRequest, now: datetime) -> str | None:
    """Why the run must wait for an approval before acting, or None.

    A dry run never waits. An exclusive-lock action waits whenever ``approvals.required_for``
    lists ``vacuum_full``, critical or not (critical skips the notice period, not the approver).
    Other critical runs act at once (marked for post-hoc review). A non-critical run waits in a
    change freeze (``guards.freeze``), and otherwise when ``emergency.mode`` is approval|both and
    ``approvals.required_for`` lists ``emergency_non_critical``."""
    if request.dry_run:
        return None
    required = cfg.approvals.required_for
    if request.exclusive and "vacuum_full" in required:
        return (f"{'critical ' if request.critical else ''}{request.action} takes an ACCESS EXCLUSIVE lock "
                "(approvals.required_for lists vacuum_full)")
    if request.critical:
        return None
    frozen = freeze_at(cfg.guards.freeze, now)
    if frozen is not None:
        return (f"change freeze until {frozen.end.isoformat()}" + (f" ({frozen.reason})" if frozen.reason else "")
                + ": non-critical emergency runs need an approval (guards.freeze)")
    if cfg.emergency.mode != "notice" and "emergency_non_critical" in required:
        return "non-critical emergency run (approvals.required_for lists emergency_non_critical)"
    return None


def validate(params: dict[str, Any], cfg: MaintenanceConfig, catalog: Catalog,
             now: datetime | None = None) -> EmergencyRequest:
    """The request as the run will execute it, or :class:`InvalidRequest` naming the field."""
    action, kind, check_set = _action(params, catalog)
    target = _text(params, "target")
    configured = [t.name for t in getattr(cfg.targets, kind)]
    if target not in configured:
        raise InvalidRequest("target", f"{target!r} is not a configured {kind} target (configured: {configured})")
    objects = _objects(params.get("objects"))
    if objects and not (action in catalog.actions and catalog.actions[action][1]):
        raise InvalidRequest("objects", f"action {action!r} does not take objects")
    exclusive = action in catalog.exclusive
    if exclusive:
        _opted_in(cfg, action, target, objects)
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
    request = EmergencyRequest(action=action, target=target, kind=kind, severity=severity, reason=reason,
                               ticket=ticket, dry_run=dry_run, objects=objects, check_set=check_set,
                               ignore_load_guard=ignore_load_guard, exclusive=exclusive)
    return replace(request, approval=approval_reason(cfg, request, now or datetime.now(UTC)))


def params(catalog: Catalog) -> dict[str, Any]:
    """The trigger form (``airflow.sdk.Param`` with JSON schema), in display order."""
    from airflow.sdk import Param

    return {
        "action": Param(None, type="string", enum=catalog.form_actions, title="Action",
                        description="The maintenance action to run now (the same code as the scheduled DAGs)."),
        "check_set": Param(None, type=["null", "string"], enum=[None, *sorted(catalog.check_sets)], title="Check set",
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
