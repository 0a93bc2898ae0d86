"""The alert state machine: for duration, dedup/repeat, inhibition, escalation, resolve, outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mercenary_maintenance.alerts.message import format_notification
from mercenary_maintenance.alerts.policy import Policy
from mercenary_maintenance.alerts.state import (
    OUTBOX_LIMIT,
    AlertState,
    Notification,
    Observation,
    advance,
    with_undelivered,
)
from mercenary_maintenance.findings import Threshold, measured

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CPU = Threshold(70, 90)
POLICY = Policy(for_duration=timedelta(minutes=5), repeat_interval=timedelta(hours=4),
                primary_oncall="alice", secondary_oncall="bob")


def obs(value: float | None, target: str = "web1", check: str = "host.cpu") -> Observation:
    return Observation.from_finding(measured(check, target, value, CPU, f"cpu {value}"), CPU)


class Run:
    """Feeds observations minute by minute, like the 5-minute schedule but finer."""

    def __init__(self, policy: Policy = POLICY) -> None:
        self.state, self.policy = AlertState(), policy

    def at(self, minutes: float, *observations: Observation) -> list[Notification]:
        state, notes = advance(self.state, list(observations), T0 + timedelta(minutes=minutes), self.policy)
        # Round-trip through JSON each time: the stored form must carry everything.
        self.state = AlertState.from_dict(json.loads(json.dumps(state.to_dict())))
        return notes


def kinds(notes: list[Notification]) -> list[tuple[str, str]]:
    return [(n.kind, n.severity) for n in notes]


def test_fires_only_after_the_for_duration():
    run = Run()
    assert run.at(0, obs(75)) == []
    assert run.at(4, obs(75)) == []
    notes = run.at(5, obs(75))
    assert kinds(notes) == [("firing", "warning")]
    assert notes[0].value == 75
    assert notes[0].limit == 70
    assert notes[0].incident == "P3"


def test_a_condition_that_clears_before_for_never_fires_and_restarts_the_clock():
    run = Run()
    run.at(0, obs(75))
    assert run.at(3, obs(50)) == []
    assert run.at(4, obs(75)) == []
    assert run.at(8, obs(75)) == []  # only 4 minutes since it came back
    assert kinds(run.at(9, obs(75))) == [("firing", "warning")]


def test_zero_for_fires_at_once():
    run = Run(Policy(for_duration=timedelta(0)))
    assert kinds(run.at(0, obs(95))) == [("firing", "critical")]


def test_dedup_until_repeat_interval():
    run = Run()
    run.at(0, obs(75))
    assert len(run.at(5, obs(75))) == 1
    for minute in range(10, 240 + 5, 5):
        assert run.at(minute, obs(76)) == [], minute
    notes = run.at(245, obs(77))
    assert kinds(notes) == [("repeat", "warning")]
    assert notes[0].value == 77


def test_critical_inhibits_warning_of_same_check_and_target():
    run = Run()
    run.at(0, obs(95))
    notes = run.at(5, obs(95))
    assert kinds(notes) == [("firing", "critical")]  # the warning fires too, but is muted
    assert notes[0].incident == "P2"
    assert notes[0].response == "1 h"
    assert notes[0].mentions == ("alice",)
    assert run.at(10, obs(95)) == []


def test_inhibition_is_per_target():
    run = Run()
    run.at(0, obs(95, "web1"), obs(75, "web2"))
    assert sorted(kinds(run.at(5, obs(95, "web1"), obs(75, "web2")))) == [("firing", "critical"), ("firing", "warning")]


def test_warning_announced_again_when_critical_clears_to_warning():
    run = Run()
    run.at(0, obs(75))
    assert kinds(run.at(5, obs(75))) == [("firing", "warning")]
    run.at(6, obs(95))
    assert kinds(run.at(11, obs(95))) == [("firing", "critical")]
    notes = run.at(20, obs(80))
    assert sorted(kinds(notes)) == [("firing", "warning"), ("resolved", "critical")]


def test_resolved_notice_once_when_it_clears():
    run = Run()
    run.at(0, obs(75))
    run.at(5, obs(75))
    notes = run.at(10, obs(50))
    assert kinds(notes) == [("resolved", "warning")]
    assert notes[0].value == 50
    assert notes[0].mentions == ()
    assert run.at(15, obs(50)) == []
    assert run.state.alerts == {}


def test_critical_then_ok_resolves_only_the_critical():
    run = Run()
    run.at(0, obs(95))
    run.at(5, obs(95))
    assert kinds(run.at(10, obs(10))) == [("resolved", "critical")]


def test_pending_alert_that_clears_sends_nothing():
    run = Run()
    run.at(0, obs(95))
    assert run.at(2, obs(10)) == []
    assert run.state.alerts == {}


def test_escalation_to_secondary_after_response_time():
    run = Run(Policy(for_duration=timedelta(0), repeat_interval=timedelta(hours=4),
                     primary_oncall="alice", secondary_oncall="bob", p1_checks=frozenset({"host.cpu"})))
    first = run.at(0, obs(95))
    assert first[0].incident == "P1"
    assert first[0].response == "15 min"
    assert run.at(14, obs(95)) == []
    notes = run.at(15, obs(95))
    assert kinds(notes) == [("escalation", "critical")]
    assert notes[0].mentions == ("bob", "alice")
    assert run.at(60, obs(95)) == []  # escalated once
    assert kinds(run.at(15 + 240, obs(95))) == [("repeat", "critical")]


def test_warnings_are_not_escalated():
    run = Run(Policy(for_duration=timedelta(0), repeat_interval=timedelta(days=1)))
    run.at(0, obs(75))
    assert run.at(5 * 60 - 1, obs(75)) == []  # past P3's 4 h: still no escalation


def test_unknown_neither_fires_nor_resolves():
    run = Run()
    run.at(0, obs(75))
    run.at(5, obs(75))
    down = obs(None, target="all")
    assert run.at(10, down) == []
    assert run.at(300, down) == []  # no repeat either: we know nothing
    assert "host.cpu|web1|warning" in run.state.alerts
    assert kinds(run.at(301, obs(75))) == [("repeat", "warning")]  # back: the same alert, repeat is due
    assert kinds(run.at(302, obs(50))) == [("resolved", "warning")]


def test_unknown_keeps_pending_clock():
    run = Run()
    run.at(0, obs(75))
    run.at(3, obs(None, target="all"))
    assert kinds(run.at(5, obs(75))) == [("firing", "warning")]


def test_series_that_vanishes_resolves():
    run = Run()
    run.at(0, obs(75, "web1"), obs(10, "web2"))
    run.at(5, obs(75, "web1"), obs(10, "web2"))
    assert kinds(run.at(10, obs(10, "web2"))) == [("resolved", "warning")]


def test_checks_are_independent():
    run = Run()
    mem = Observation.from_finding(measured("host.memory", "web1", 96, Threshold(80, 95), "mem"), Threshold(80, 95))
    run.at(0, obs(95), mem)
    notes = run.at(5, obs(95), mem)
    assert sorted((n.check, n.severity) for n in notes) == [("host.cpu", "critical"), ("host.memory", "critical")]


def test_undelivered_notifications_are_resent_next_run():
    run = Run(Policy(for_duration=timedelta(0)))
    notes = run.at(0, obs(75))
    run.state = with_undelivered(run.state, notes)
    again = run.at(5, obs(75))
    assert kinds(again) == [("firing", "warning")]
    assert again[0].at == notes[0].at  # the original notice, not a new one
    assert run.at(10, obs(75)) == []  # delivered (outbox not kept) -> dedup again


def test_undelivered_firing_then_resolved_sends_both():
    run = Run(Policy(for_duration=timedelta(0)))
    notes = run.at(0, obs(75))
    run.state = with_undelivered(run.state, notes)
    assert kinds(run.at(5, obs(10))) == [("firing", "warning"), ("resolved", "warning")]


def test_outbox_is_bounded():
    note = Notification("firing", "host.cpu", "x", "warning", 1, 1, "", "P3", "4 h", "", "")
    state = with_undelivered(AlertState(), [note] * (OUTBOX_LIMIT + 10))
    assert len(state.outbox) == OUTBOX_LIMIT


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone"):
        advance(AlertState(), [obs(95)], datetime(2026, 1, 1), POLICY)


def test_state_version_is_checked():
    with pytest.raises(ValueError, match="version"):
        AlertState.from_dict({"version": 99, "alerts": {}})


def test_message_has_severity_value_threshold_incident_and_link():
    run = Run(Policy(for_duration=timedelta(0), primary_oncall="U024BE7LH"))
    text = format_notification(run.at(0, obs(93.456))[0], "http://airflow/dags/a/runs/r")
    assert "CRITICAL host.cpu on web1" in text
    assert "value 93.46 vs threshold 90" in text
    assert "incident P2 (respond within 1 h)" in text
    assert "<@U024BE7LH>" in text
    assert "<http://airflow/dags/a/runs/r|" in text


def test_resolved_message():
    run = Run(Policy(for_duration=timedelta(0)))
    run.at(0, obs(75))
    text = format_notification(run.at(5, obs(12))[0], "http://l")
    assert text.startswith(":large_green_circle: *RESOLVED* WARNING host.cpu on web1 — now 12")
