"""Preview estimates from report history (median per object), the size fallback, and risk notes."""

from __future__ import annotations

from typing import Any

import pytest

from mercenary_maintenance.plan import ACTIONS, MIB, TargetState
from mercenary_maintenance.preview.plan import estimate, history_durations, make_item


def report(*actions: tuple[str, str, str, float]) -> dict[str, Any]:
    return {"actions": [{"action": a, "target": t, "status": s, "duration_s": d} for a, t, s, d in actions]}


HISTORY = [
    report(("postgres.vacuum_analyze", "main", "done", 2.0), ("postgres.vacuum_analyze", "main", "done", 4.0),
           ("postgres.vacuum_analyze", "main", "skipped", 0.01), ("postgres.vacuum_analyze", "other", "done", 90.0)),
    report(("postgres.vacuum_analyze", "main", "failed", 300.0), ("postgres.vacuum_analyze", "main", "done", 3.0)),
    report(("postgres.reindex", "main", "done", 60.0)),
]


def test_only_done_actions_of_that_action_on_that_target_count() -> None:
    assert sorted(history_durations(HISTORY, "postgres.vacuum_analyze", "main")) == [2.0, 3.0, 4.0]
    assert history_durations(HISTORY, "postgres.vacuum_analyze", "other") == [90.0]
    assert history_durations(HISTORY, "postgres.vacuum_full", "main") == []


def test_history_estimate_is_the_median_per_object_times_the_objects() -> None:
    durations = history_durations(HISTORY, "postgres.vacuum_analyze", "main")
    assert estimate("postgres.vacuum_analyze", 2, 10 * 2**30, durations) == (6.0, "history")
    # One outlier run does not move the median.
    assert estimate("postgres.vacuum_analyze", 1, 0, [*durations, 5000.0]) == (3.5, "history")


def test_without_history_the_estimate_comes_from_the_size_and_says_so() -> None:
    seconds, basis = estimate("postgres.vacuum_full", 1, 400 * MIB, [])
    assert basis == "size"
    assert seconds == pytest.approx(400 * MIB / ACTIONS["postgres.vacuum_full"].bytes_per_s)
    assert estimate("postgres.vacuum_full", 3, 0, []) == (3.0, "size"), "at least a second per object"


def test_item_carries_the_contract_keys_and_the_history_basis() -> None:
    item = make_item(window_dag_id="maintenance_monthly", window_start="2026-12-06T01:00:00+00:00", target="main",
                     action="postgres.reindex", objects=["public.a_idx"], size_bytes=5 * MIB,
                     figures=[{"object": "public.a_idx", "bloat_percent": 80.0}],
                     history=history_durations(HISTORY, "postgres.reindex", "main"),
                     state=TargetState(active_sessions=50, replication_lag_bytes=500 * MIB))
    data = item.to_dict()
    assert {"window_dag_id", "window_start", "target", "action", "objects", "estimate_s", "estimate_basis",
            "lock", "risk", "rollback"} <= set(data)
    assert (data["estimate_s"], data["estimate_basis"]) == (60.0, "history")
    assert "CONCURRENTLY" in data["lock"]
    assert "busy target: 50 active sessions" in data["risk"]
    assert "replica lag 500.0 MiB" in data["risk"]
    assert "_ccnew" in data["rollback"]


def test_vacuum_full_risk_names_the_exclusive_lock_and_approval_kind() -> None:
    item = make_item(window_dag_id="maintenance_monthly", window_start="s", target="main",
                     action="postgres.vacuum_full", objects=["public.ledger"], size_bytes=2 * 2**30, figures=[],
                     history=[], state=TargetState())
    assert item.lock.startswith("ACCESS EXCLUSIVE")
    assert item.estimate_basis == "size"
    assert "large: 2.0 GiB" in item.risk
    assert "locked for every query" in item.risk
    assert ACTIONS["postgres.vacuum_full"].approval == "vacuum_full"
