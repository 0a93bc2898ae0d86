"""The one threshold evaluator and the Finding/Action types."""

from __future__ import annotations

import pytest

from mercenary_maintenance.findings import (
    Action,
    ActionStatus,
    Finding,
    Severity,
    Threshold,
    evaluate,
    measured,
    unknown,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, Severity.OK), (70, Severity.OK), (70.01, Severity.WARNING), (90, Severity.WARNING),
     (90.5, Severity.CRITICAL), (None, Severity.UNKNOWN)],
)
def test_above_thresholds_are_exclusive_like_the_plan(value: float | None, expected: Severity) -> None:
    assert evaluate(value, Threshold(70, 90)) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(99.5, Severity.OK), (99, Severity.OK), (98, Severity.WARNING), (95, Severity.WARNING), (94.9, Severity.CRITICAL)],
)
def test_below_thresholds(value: float, expected: Severity) -> None:
    assert evaluate(value, Threshold(99, 95, "below")) is expected


def test_inverted_thresholds_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least as severe"):
        Threshold(90, 70)
    with pytest.raises(ValueError, match="at least as severe"):
        Threshold(90, 95, "below")


def test_severity_order_and_parse() -> None:
    assert max(Severity.WARNING, Severity.UNKNOWN, Severity.OK) is Severity.UNKNOWN
    assert Severity.parse("CRITICAL") is Severity.CRITICAL
    with pytest.raises(ValueError, match="unknown severity"):
        Severity.parse("bad")


def test_measured_reports_the_crossed_limit() -> None:
    finding = measured("host.cpu", "h", 95, Threshold(70, 90), "cpu")
    assert finding.severity is Severity.CRITICAL
    assert finding.threshold == 90
    assert measured("host.cpu", "h", 75, Threshold(70, 90), "cpu").threshold == 70


def test_round_trip_and_names() -> None:
    finding = Finding("postgres.blocked_locks", "main", "warning", "1 blocked", value=1, threshold=0)
    assert Finding.from_dict(finding.to_dict()) == finding
    assert finding.to_dict()["severity"] == "warning"
    action = Action("postgres.vacuum_analyze", "main", "done", "ok", duration_s=1.23456)
    assert action.to_dict()["duration_s"] == 1.235
    assert Action.from_dict({**action.to_dict(), "duration_s": action.duration_s}).status is ActionStatus.DONE
    for bad in ("blocked_locks", "Postgres.x", "postgres.", ".x", "postgres.blocked locks"):
        with pytest.raises(ValueError, match="must look like"):
            Finding(bad, "t", Severity.OK, "m")


def test_unknown_finding_carries_the_error() -> None:
    finding = unknown("redis.memory", "cache", ConnectionError("Connection refused\nmore"))
    assert finding.severity is Severity.UNKNOWN
    assert finding.message == "check could not run: ConnectionError: Connection refused"
