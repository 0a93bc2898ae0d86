"""The one result vocabulary: severities, findings, actions and the threshold evaluator.

Every check returns :class:`Finding` objects and every maintenance step returns
:class:`Action` objects; the report writer, Slack notifier and alert evaluator only
ever see these two types. ``evaluate`` is the single place where a value is compared
with a warning/critical pair.
"""

from __future__ import annotations

import enum
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mercenary_maintenance.redact import first_line

Direction = Literal["above", "below"]
_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


class Severity(enum.IntEnum):
    """Ordered so that ``max()`` of severities is the worst one.

    ``unknown`` ranks between warning and critical: a check that could not run is
    worse than a warning (nobody knows the state) but is not a confirmed outage.
    """

    OK = 0
    WARNING = 1
    UNKNOWN = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        if isinstance(value, Severity):
            return value
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError(f"unknown severity {value!r}; expected ok|warning|critical|unknown") from None


class ActionStatus(enum.StrEnum):
    DONE = "done"
    SKIPPED = "skipped"
    DRY_RUN = "dry_run"
    FAILED = "failed"


@dataclass(frozen=True)
class Threshold:
    """A warning/critical pair. ``direction='above'`` fires when value > limit."""

    warning: float
    critical: float
    direction: Direction = "above"

    def __post_init__(self) -> None:
        if self.direction not in ("above", "below"):
            raise ValueError(f"direction must be 'above' or 'below', not {self.direction!r}")
        worse = self.critical >= self.warning if self.direction == "above" else self.critical <= self.warning
        if not worse:
            raise ValueError(
                f"critical ({self.critical}) must be at least as severe as warning ({self.warning}) "
                f"for direction {self.direction!r}"
            )


def evaluate(value: float | None, threshold: Threshold) -> Severity:
    """Compare ``value`` with ``threshold``; ``None`` (not measurable) is unknown.

    Limits are exclusive, as in the plan's table ("> 80 %"):

    >>> evaluate(80, Threshold(80, 90))
    <Severity.OK: 0>
    >>> evaluate(80.1, Threshold(80, 90))
    <Severity.WARNING: 1>
    >>> evaluate(95, Threshold(80, 90))
    <Severity.CRITICAL: 3>
    >>> evaluate(0.5, Threshold(0.99, 0.9, "below"))
    <Severity.CRITICAL: 3>
    >>> evaluate(None, Threshold(1, 2))
    <Severity.UNKNOWN: 2>
    """
    if value is None:
        return Severity.UNKNOWN
    if threshold.direction == "above":
        if value > threshold.critical:
            return Severity.CRITICAL
        if value > threshold.warning:
            return Severity.WARNING
        return Severity.OK
    if value < threshold.critical:
        return Severity.CRITICAL
    if value < threshold.warning:
        return Severity.WARNING
    return Severity.OK


def limit_for(severity: Severity, threshold: Threshold) -> float:
    """The limit that was crossed (critical or warning), for the report's ``threshold`` field."""
    return threshold.critical if severity is Severity.CRITICAL else threshold.warning


@dataclass
class Finding:
    check: str
    target: str
    severity: Severity
    message: str
    value: Any = None
    threshold: Any = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.severity = Severity.parse(self.severity)
        _check_name(self.check)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.label
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(**data)


@dataclass
class Action:
    action: str
    target: str
    status: ActionStatus
    message: str
    duration_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.status = ActionStatus(self.status)
        _check_name(self.action)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["duration_s"] = round(self.duration_s, 3)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Action:
        return cls(**data)


def measured(
    check: str,
    target: str,
    value: float | None,
    threshold: Threshold,
    message: str,
    details: dict[str, Any] | None = None,
) -> Finding:
    """A finding whose severity is ``evaluate(value, threshold)``."""
    severity = evaluate(value, threshold)
    return Finding(
        check=check,
        target=target,
        severity=severity,
        value=value,
        threshold=limit_for(severity, threshold),
        message=message,
        details=details or {},
    )


def unknown(check: str, target: str, error: BaseException | str) -> Finding:
    """A check that could not run: severity unknown, the error's first line as message."""

    text = first_line(error, default=type(error).__name__)
    return Finding(check=check, target=target, severity=Severity.UNKNOWN, message=f"check could not run: {text}")


def not_configured(check: str, target: str, what: str) -> Finding:
    """A check with nothing configured to look at: ``ok``, flagged, and saying so (never silence).

    >>> f = not_configured("tls.certificate_expiry", "all", "targets.http lists no HTTPS target")
    >>> f.severity.label, f.details, f.message
    ('ok', {'not_configured': True}, 'not configured: targets.http lists no HTTPS target')
    """
    return Finding(check=check, target=target, severity=Severity.OK, message=f"not configured: {what}",
                   details={"not_configured": True})


def worst(severities: list[Severity]) -> Severity:
    return max(severities, default=Severity.OK)


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"check/action name {name!r} must look like '<area>.<snake_case>'")
