"""The alert state machine, as pure functions: ``advance(state, observations, now, policy)``.

Modelled on Prometheus alerting rules and Alertmanager:

* every (check, target) has two alerts, one per level (warning, critical), like two
  Prometheus rules with ``severity`` labels; a level's condition holds when the
  observation's severity (from ``findings.evaluate``) reaches it;
* an alert is *pending* while its condition holds for less than ``for``, then *firing*
  (service probes instead count consecutive failures: ``Policy.fire_after``);
* a firing alert is notified once, then again only after the repeat interval (dedup);
* a firing critical alert inhibits the warning of the same check and target; when the
  inhibition lifts and the warning still holds, the warning is notified afresh;
* a critical alert still firing after its incident level's response time is escalated
  once (re-sent mentioning the secondary on-call);
* a notified alert that clears produces one resolved notice;
* an ``unknown`` observation (the metric could not be read) neither fires nor resolves the
  metric's alerts — but it is never ``ok``: :func:`blindness` turns a check and target unknown
  for ``blind_after`` into a ``monitoring.blind`` warning naming it and why (unless the
  observation carries an excuse: its data is missing because of an outage already alerted on);
* a critical alert acknowledged where the route can say so (an Alertmanager silence) is not
  escalated;
* notifications that could not be delivered stay in an outbox and are re-sent on the next
  run (at-least-once delivery).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from mercenary_maintenance.alerts.policy import Policy
from mercenary_maintenance.findings import Finding, Severity, Threshold

Kind = Literal["firing", "repeat", "escalation", "resolved"]
LEVELS = (Severity.WARNING, Severity.CRITICAL)
OUTBOX_LIMIT = 50
STATE_VERSION = 1


@dataclass(frozen=True)
class Observation:
    """One evaluated metric: the severity comes from ``findings.evaluate`` via ``measured``."""

    check: str
    target: str
    severity: Severity
    value: float | None
    threshold: Threshold | None
    message: str
    # A maintenance window running on this target (e.g. "maintenance_weekly"); ``muted``: no
    # firing/repeat/escalation notices while it runs (``alerts.during_window: mute``).
    window: str | None = None
    muted: bool = False
    # Why an unknown is not blindness (e.g. the application's probe fails: that is the outage).
    excuse: str | None = None

    @classmethod
    def from_finding(cls, finding: Finding, threshold: Threshold | None) -> Observation:
        return cls(finding.check, finding.target, finding.severity, finding.value, threshold, finding.message)

    def during(self, window: str | None, mode: str) -> Observation:
        """This observation inside a running window, routed per ``alerts.during_window``.

        annotate: the message says so; downgrade: a critical counts as a warning; mute: no
        firing notices while the window runs. The alert is kept in the state in every mode.
        """
        if window is None or self.severity is Severity.UNKNOWN:
            return self
        severity = self.severity
        if mode == "downgrade" and severity is Severity.CRITICAL:
            severity = Severity.WARNING
        note = f" (during the {window} maintenance window" + (", downgraded from critical)"
                                                             if severity is not self.severity else ")")
        return replace(self, severity=severity, message=self.message + note, window=window, muted=mode == "mute")

    def holds(self, level: Severity) -> bool:
        if self.severity is Severity.UNKNOWN:
            return False
        return self.severity >= level

    def limit(self, level: Severity) -> float | None:
        if self.threshold is None:
            return None
        return self.threshold.critical if level is Severity.CRITICAL else self.threshold.warning


@dataclass(frozen=True)
class AlertRecord:
    check: str
    target: str
    level: str  # "warning" | "critical"
    active_since: str
    firing_since: str | None = None
    last_notified: str | None = None
    notified: bool = False
    escalated: bool = False
    value: float | None = None
    limit: float | None = None
    message: str = ""
    window: str | None = None
    holds: int = 0  # consecutive observations in which the condition held

    @property
    def key(self) -> str:
        return alert_key(self.check, self.target, self.level)


@dataclass(frozen=True)
class Notification:
    kind: Kind
    check: str
    target: str
    severity: str
    value: float | None
    limit: float | None
    message: str
    incident: str
    response: str
    since: str
    at: str
    mentions: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return alert_key(self.check, self.target, self.severity)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mentions"] = list(self.mentions)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
        return cls(**{**data, "mentions": tuple(data.get("mentions") or ())})


@dataclass(frozen=True)
class AlertState:
    alerts: dict[str, AlertRecord] = field(default_factory=dict)
    outbox: tuple[Notification, ...] = ()
    # "check|target" -> {"since": ISO, "why": message}: what has been unknown since when.
    unknown: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "alerts": {k: asdict(v) for k, v in sorted(self.alerts.items())},
            "outbox": [n.to_dict() for n in self.outbox],
            "unknown": dict(sorted(self.unknown.items())),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AlertState:
        if not data:
            return cls()
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"alert state version {data.get('version')!r} is not {STATE_VERSION}")
        alerts = {k: AlertRecord(**v) for k, v in (data.get("alerts") or {}).items()}
        outbox = tuple(Notification.from_dict(n) for n in data.get("outbox") or [])
        return cls(alerts, outbox, dict(data.get("unknown") or {}))


def alert_key(check: str, target: str, level: str) -> str:
    return f"{check}|{target}|{level}"


def _ts(now: datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.isoformat()


def _age(since: str | None, now: datetime) -> float:
    return (now - datetime.fromisoformat(since)).total_seconds() if since else 0.0


def _update(records: dict[str, AlertRecord], obs: Observation, now: datetime, policy: Policy) -> list[AlertRecord]:
    """Apply one observation to its two level alerts; return the firing ones that cleared."""
    cleared: list[AlertRecord] = []
    for level in LEVELS:
        key = alert_key(obs.check, obs.target, level.label)
        record = records.get(key)
        if not obs.holds(level):
            if record is not None:
                del records[key]
                if record.firing_since is not None:
                    cleared.append(replace(record, value=obs.value, message=obs.message, window=obs.window))
            continue
        if record is None:
            record = AlertRecord(obs.check, obs.target, level.label, active_since=_ts(now))
        record = replace(record, value=obs.value, limit=obs.limit(level), message=obs.message, window=obs.window,
                         holds=record.holds + 1)
        after = policy.fire_after.get(obs.check)
        due = (record.holds >= after if after is not None
               else _age(record.active_since, now) >= policy.for_duration.total_seconds())
        if record.firing_since is None and due:
            record = replace(record, firing_since=_ts(now))
        records[key] = record
    return cleared


def _vanished(records: dict[str, AlertRecord], observations: list[Observation]) -> list[AlertRecord]:
    """Alerts of a check that was measured but no longer has their target (series gone)."""
    unknown = {o.check for o in observations if o.severity is Severity.UNKNOWN}
    measured_checks = {o.check for o in observations} - unknown
    seen = {(o.check, o.target) for o in observations}
    gone = [r for r in records.values() if r.check in measured_checks and (r.check, r.target) not in seen]
    for record in gone:
        del records[record.key]
    return [r for r in gone if r.firing_since is not None]


def _notification(
    kind: Kind, record: AlertRecord, now: datetime, policy: Policy, mentions: tuple[str, ...]
) -> Notification:
    level = policy.incident_level(record.check, Severity.parse(record.level))
    return Notification(
        kind=kind, check=record.check, target=record.target, severity=record.level, value=record.value,
        limit=record.limit, message=record.message, incident=level.name, response=level.response_text,
        since=record.firing_since or record.active_since, at=_ts(now), mentions=mentions,
    )


def _inhibited(records: dict[str, AlertRecord], record: AlertRecord) -> bool:
    if record.level != Severity.WARNING.label:
        return False
    critical = records.get(alert_key(record.check, record.target, Severity.CRITICAL.label))
    return critical is not None and critical.firing_since is not None


def _notify_firing(
    records: dict[str, AlertRecord], measured: set[tuple[str, str]], now: datetime, policy: Policy,
    muted: frozenset[tuple[str, str]] = frozenset(), acknowledged: frozenset[str] = frozenset(),
) -> list[Notification]:
    out: list[Notification] = []
    primary: tuple[str, ...] = (policy.primary_oncall,) if policy.primary_oncall else ()
    secondary = tuple(h for h in (policy.secondary_oncall, policy.primary_oncall) if h)
    for key in sorted(records, key=lambda k: (records[k].level != "critical", k)):
        record = records[key]
        if record.firing_since is None or (record.check, record.target) not in measured:
            continue  # pending, or not measured this time (unknown): nothing to say
        if (record.check, record.target) in muted:
            continue  # firing, kept in the state, announced when the window is over
        if _inhibited(records, record):
            # Muted; cleared so that the warning is announced afresh when the critical clears.
            records[key] = replace(record, last_notified=None)
            continue
        response = policy.incident_level(record.check, Severity.parse(record.level)).response
        kind: Kind | None = None
        mentions: tuple[str, ...] = primary
        overdue = _age(record.firing_since, now) >= response.total_seconds()
        if (policy.escalate and record.level == "critical" and not record.escalated and overdue
                and key not in acknowledged):
            kind, mentions = "escalation", secondary
            record = replace(record, escalated=True)
        elif record.last_notified is None:
            kind = "firing"
        elif _age(record.last_notified, now) >= policy.repeat_interval.total_seconds():
            kind = "repeat"
        if kind is None:
            continue
        record = replace(record, last_notified=_ts(now), notified=True)
        records[key] = record
        out.append(_notification(kind, record, now, policy, mentions))
    return out


def advance(
    state: AlertState, observations: list[Observation], now: datetime, policy: Policy,
    acknowledged: frozenset[str] = frozenset(),
) -> tuple[AlertState, list[Notification]]:
    """The next state and the notifications to send now (undelivered ones from before first).

    ``acknowledged``: alert keys silenced where the route says so; they are not escalated."""
    records = dict(state.alerts)
    critical_before = {(r.check, r.target) for r in state.alerts.values()
                       if r.level == "critical" and r.firing_since is not None}
    cleared: list[AlertRecord] = []
    for obs in observations:
        if obs.severity is not Severity.UNKNOWN:
            cleared.extend(_update(records, obs, now, policy))
    cleared.extend(_vanished(records, observations))
    measured = {(o.check, o.target) for o in observations if o.severity is not Severity.UNKNOWN}
    muted = frozenset((o.check, o.target) for o in observations if o.muted)
    fresh = _notify_firing(records, measured, now, policy, muted, acknowledged)
    for record in cleared:
        if not record.notified:
            continue
        if record.level == "warning" and (record.check, record.target) in critical_before:
            continue  # the warning was inhibited by a critical alert: its resolve is muted too
        fresh.append(_notification("resolved", record, now, policy, ()))
    superseded = {(n.key, n.kind) for n in fresh}
    pending = [n for n in state.outbox if (n.key, n.kind) not in superseded]
    return AlertState(records, (), state.unknown), pending + fresh


def with_undelivered(state: AlertState, undelivered: list[Notification]) -> AlertState:
    """Keep notifications that could not be delivered for the next run (bounded, newest kept)."""
    return AlertState(state.alerts, tuple(undelivered[-OUTBOX_LIMIT:]), state.unknown)


BLIND = "monitoring.blind"


def blindness(
    state: AlertState, observations: list[Observation], now: datetime, blind_after: timedelta
) -> tuple[AlertState, list[Observation]]:
    """Track what is unknown since when; a check and target unknown for ``blind_after`` is a
    ``monitoring.blind`` warning (target ``<check>/<target>``), otherwise ok (which resolves it).

    An unknown observation with an ``excuse`` restarts the clock (its missing data is explained,
    e.g. by a failing probe of the same service, alerted on as the outage). A check and target
    no longer observed at all is forgotten.

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> down = [Observation("app.error_rate", "all", Severity.UNKNOWN, None, None, "query failed: refused")]
    >>> st, blind = blindness(AlertState(), down, t0, timedelta(minutes=15))
    >>> [(b.target, b.severity.label) for b in blind]
    [('app.error_rate/all', 'ok')]
    >>> st, blind = blindness(st, down, t0 + timedelta(minutes=15), timedelta(minutes=15))
    >>> blind[0].severity.label, blind[0].message
    ('warning', 'app.error_rate on all has had no data for 15 min: query failed: refused')
    """
    unknown: dict[str, dict[str, str]] = {}
    for obs in observations:
        key = f"{obs.check}|{obs.target}"
        if obs.severity is Severity.UNKNOWN and obs.excuse is None:
            unknown[key] = state.unknown.get(key) or {"since": _ts(now)}
            unknown[key] = {**unknown[key], "why": obs.message}
    out: list[Observation] = []
    for key, seen in sorted(unknown.items()):
        check, target = key.split("|", 1)
        minutes = _age(seen["since"], now) / 60
        blind = minutes >= blind_after.total_seconds() / 60
        message = (f"{check} on {target} has had no data for {minutes:.0f} min: {seen['why']}" if blind
                   else f"{check} on {target} unknown for {minutes:.0f} min (blind after "
                        f"{blind_after.total_seconds() / 60:.0f}): {seen['why']}")
        out.append(Observation(BLIND, f"{check}/{target}", Severity.WARNING if blind else Severity.OK,
                               round(minutes, 1), None, message))
    # Blind alerts whose check is no longer unknown: an ok observation resolves them.
    tracked = {o.target for o in out}
    for record in state.alerts.values():
        if record.check == BLIND and record.target not in tracked:
            tracked.add(record.target)
            out.append(Observation(BLIND, record.target, Severity.OK, 0.0, None,
                                   f"{record.target.replace('/', ' on ', 1)} has data again"))
    return replace(state, unknown=unknown), out
