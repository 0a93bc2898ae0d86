"""Paging rules of the state machine (issue 28): outage after N failed probes, blindness, P4,
acknowledged alerts not escalated, Alertmanager payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from mercenary_maintenance.alerts import alertmanager
from mercenary_maintenance.alerts.policy import Policy
from mercenary_maintenance.alerts.state import BLIND, AlertState, Notification, Observation, advance, blindness
from mercenary_maintenance.findings import Severity

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = Policy(for_duration=timedelta(minutes=5), p1_checks=frozenset({"services.status"}),
                p4_checks=frozenset({"http.security_headers"}), fire_after={"services.status": 2, BLIND: 1},
                primary_oncall="alice", secondary_oncall="bob")
FIVE = timedelta(minutes=5)


def probe(ok: bool, target: str = "postgres:main") -> Observation:
    return Observation("services.status", target, Severity.OK if ok else Severity.CRITICAL, None, None,
                       "up" if ok else "refused")


def roundtrip(state: AlertState) -> AlertState:
    return AlertState.from_dict(json.loads(json.dumps(state.to_dict())))


def test_an_outage_fires_p1_at_the_nth_consecutive_failure_whatever_the_for_duration() -> None:
    state, notes = advance(AlertState(), [probe(False)], T0, POLICY)
    assert notes == []
    # One success in between restarts the count.
    state, notes = advance(roundtrip(state), [probe(True)], T0 + FIVE, POLICY)
    state, notes = advance(roundtrip(state), [probe(False)], T0 + 2 * FIVE, POLICY)
    assert notes == []
    state, notes = advance(roundtrip(state), [probe(False)], T0 + 2 * FIVE + timedelta(seconds=1), POLICY)
    assert [(n.kind, n.severity, n.incident, n.response) for n in notes] == [("firing", "critical", "P1", "15 min")]
    state, notes = advance(roundtrip(state), [probe(True)], T0 + 3 * FIVE, POLICY)
    assert [(n.kind, n.incident) for n in notes] == [("resolved", "P1")]


def test_escalation_waits_while_acknowledged() -> None:
    state, _ = advance(AlertState(), [probe(False)], T0, POLICY)
    state, _ = advance(state, [probe(False)], T0 + FIVE, POLICY)
    acked = frozenset({"services.status|postgres:main|critical"})
    state, notes = advance(state, [probe(False)], T0 + 5 * FIVE, POLICY, acked)
    assert notes == []
    state, notes = advance(state, [probe(False)], T0 + 6 * FIVE, POLICY)
    assert [(n.kind, n.mentions) for n in notes] == [("escalation", ("bob", "alice"))]


def test_p4_for_cosmetic_checks() -> None:
    assert POLICY.incident_level("http.security_headers", Severity.WARNING).name == "P4"
    assert POLICY.incident_level("http.security_headers", Severity.WARNING).response_text == "24 h"
    assert POLICY.incident_level("redis.memory", Severity.WARNING).name == "P3"
    assert POLICY.incident_level("services.status", Severity.CRITICAL).name == "P1"
    assert POLICY.incident_level("host.cpu", Severity.CRITICAL).name == "P2"


def unknown(check: str = "app.error_rate", excuse: str | None = None) -> Observation:
    return Observation(check, "all", Severity.UNKNOWN, None, None, "no series", excuse=excuse)


def run_blind(state: AlertState, observations: list[Observation],
              at: datetime) -> tuple[AlertState, list[Notification]]:
    state, blind = blindness(roundtrip(state), observations, at, timedelta(minutes=15))
    return advance(state, observations + blind, at, POLICY)


def test_unknown_for_blind_after_raises_monitoring_blind_p3_and_data_back_resolves_it() -> None:
    state = AlertState()
    for minutes in (0, 5, 10):
        state, notes = run_blind(state, [unknown()], T0 + timedelta(minutes=minutes))
        assert notes == []
    state, notes = run_blind(state, [unknown()], T0 + timedelta(minutes=15))
    [note] = notes
    assert (note.kind, note.check, note.target, note.severity, note.incident) == (
        "firing", BLIND, "app.error_rate/all", "warning", "P3")
    assert "no data for 15 min: no series" in note.message
    back = Observation("app.error_rate", "all", Severity.OK, 0.1, None, "0.1%")
    state, notes = run_blind(state, [back], T0 + timedelta(minutes=20))
    assert [(n.kind, n.check, n.target) for n in notes] == [("resolved", BLIND, "app.error_rate/all")]
    assert state.unknown == {}
    assert state.alerts == {}


def test_an_excused_unknown_is_not_blindness_and_restarts_the_clock() -> None:
    state = AlertState()
    for minutes in (0, 5, 10, 15, 20):
        state, notes = run_blind(state, [unknown(excuse="http:api is down")], T0 + timedelta(minutes=minutes))
        assert notes == []
    assert state.unknown == {}
    state, notes = run_blind(state, [unknown()], T0 + timedelta(minutes=25))
    assert notes == []  # the clock starts now


def test_alertmanager_payload_refreshes_firing_resolves_with_ends_at_now_and_carries_the_watchdog() -> None:
    state, _ = advance(AlertState(), [probe(False)], T0, POLICY)
    state, notes = advance(state, [probe(False)], T0 + FIVE, POLICY)
    alerts = alertmanager.payload(state, notes, POLICY, T0 + FIVE, timedelta(minutes=15), "http://af/run")
    assert [a["labels"] for a in alerts] == [
        {"alertname": "services.status", "target": "postgres:main", "severity": "critical", "level": "P1",
         "dag_id": "alert_evaluation"},
        {"alertname": "MercenaryWatchdog", "severity": "none", "dag_id": "alert_evaluation"}]
    assert alerts[0]["endsAt"] == (T0 + FIVE + timedelta(minutes=15)).isoformat()
    state, notes = advance(state, [probe(True)], T0 + 2 * FIVE, POLICY)
    alerts = alertmanager.payload(state, notes, POLICY, T0 + 2 * FIVE, timedelta(minutes=15), "http://af/run")
    assert [(a["labels"]["alertname"], a["endsAt"]) for a in alerts] == [
        ("services.status", (T0 + 2 * FIVE).isoformat()),
        ("MercenaryWatchdog", (T0 + 2 * FIVE + timedelta(minutes=15)).isoformat())]
