"""Approval gate decisions (pure): what is asked, whom, how long, and what is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mercenary_maintenance.approvals import gate, items
from mercenary_maintenance.config import parse_config
from mercenary_maintenance.emergency import notice
from mercenary_maintenance.emergency.tasks import validate
from mercenary_maintenance.windows.rules import Window

WINDOW = Window(datetime(2026, 12, 6, 1, tzinfo=UTC), datetime(2026, 12, 6, 5, tzinfo=UTC))


def cfg(**data: Any) -> Any:
    return parse_config({"targets": {"postgres": [{"name": "main", "vacuum_full_tables": ["public.ledger"]},
                                                  {"name": "other"}]}, **data})


def test_timeout_defaults_to_the_window_cutoff_and_never_below_a_minute() -> None:
    start = WINDOW.start
    assert gate.timeout(cfg(), WINDOW, timedelta(minutes=15), start) == timedelta(hours=3, minutes=45)
    late = WINDOW.end - timedelta(minutes=5)
    assert gate.timeout(cfg(), WINDOW, timedelta(minutes=15), late) == gate.MIN_WAIT
    assert gate.timeout(cfg(approvals={"timeout_minutes": 5}), WINDOW, timedelta(minutes=15), start) == \
        timedelta(minutes=5)


def test_approvers_become_assigned_users_and_empty_means_anyone() -> None:
    assert gate.assigned_users(cfg()) is None
    assert gate.assigned_users(cfg(approvals={"approvers": ["alice", "bob"]})) == [
        {"id": "alice", "name": "alice"}, {"id": "bob", "name": "bob"}]


def test_vacuum_full_items_come_from_the_opted_in_targets_with_preview_figures() -> None:
    plan = [{"action": "postgres.vacuum_full", "target": "main", "estimate_s": 42.0, "estimate_basis": "history",
             "risk": "large: 2.0 GiB", "size_bytes": 2 * 2**30}]
    found, reason = items.vacuum_full(cfg(), plan)
    assert reason is None
    [item] = found
    assert (item["target"], item["objects"], item["estimate_s"], item["size"]) == ("main", ["public.ledger"], 42.0,
                                                                                   "2.0 GiB")
    assert item["lock"].startswith("ACCESS EXCLUSIVE")
    without_preview, _ = items.vacuum_full(cfg(), [])
    assert "no preview" in without_preview[0]["risk"]
    none, reason = items.vacuum_full(parse_config({}), [])
    assert none == []
    assert reason is not None
    assert "nothing to approve" in reason


def test_subject_and_body_show_what_size_lock_estimate_rollback_and_the_deadline() -> None:
    found, _ = items.vacuum_full(cfg(), [{"action": "postgres.vacuum_full", "target": "main", "estimate_s": 42.0,
                                          "estimate_basis": "size", "risk": "r", "size_bytes": 2**20}])
    subject, body = gate.subject_body("vacuum_full", found, datetime(2026, 12, 6, 4, 45, tzinfo=UTC))
    assert subject == "Approve postgres.vacuum_full on main?"
    for text in ("public.ledger", "1.0 MiB", "ACCESS EXCLUSIVE", "42 s (size)", "cancel", "2026-12-06T04:45",
                 "Reject"):
        assert text in body


def test_retention_deletes_need_approval_only_when_they_delete() -> None:
    assert items.retention_delete(cfg())[0] == []
    found, reason = items.retention_delete(cfg(backups={"delete_expired": True}))
    assert reason is None
    assert [i["target"] for i in found] == ["main", "other"]


PARAMS = {"action": "redis_bgrewriteaof", "target": "cache", "reason": "AOF grew", "ticket": "OPS-1",
          "dry_run": False}


def test_emergency_asks_only_for_non_critical_real_runs_outside_mode_notice() -> None:
    config = cfg()
    non_critical = validate({**PARAMS, "severity": "non_critical"}, config).to_dict()
    [item], reason = items.emergency(config, non_critical)
    assert reason is None
    assert item["action"] == "redis.bgrewriteaof"
    assert "OPS-1" in item["risk"]
    critical = validate({**PARAMS, "severity": "critical"}, config).to_dict()
    assert "post-hoc" in str(items.emergency(config, critical)[1])
    assert "dry run" in str(items.emergency(config, {**non_critical, "dry_run": True})[1])
    notice_mode = cfg(emergency={"mode": "notice"})
    in_notice_mode = validate({**PARAMS, "severity": "non_critical"}, notice_mode).to_dict()
    assert "mode is notice" in str(items.emergency(notice_mode, in_notice_mode)[1])


VACUUM_FULL = {"action": "vacuum_full", "target": "main", "reason": "table rewrite after a purge",
               "ticket": "OPS-2", "dry_run": False}


def test_a_critical_vacuum_full_still_needs_an_approver_and_the_opt_in_list() -> None:
    from mercenary_maintenance.emergency.request import InvalidRequest

    config = cfg(approvals={"approvers": ["carol"]})
    with pytest.raises(InvalidRequest, match=r"objects: \['public.orders'\] not in target 'main'"):
        validate({**VACUUM_FULL, "severity": "critical", "objects": ["public.orders"]}, config)
    with pytest.raises(InvalidRequest, match="lists no table in vacuum_full_tables"):
        validate({**VACUUM_FULL, "target": "other", "severity": "critical"}, config)
    # the opt-in table, bare or qualified: accepted, and it waits for an approver although critical
    for objects in (["ledger"], ["public.ledger"], []):
        request = validate({**VACUUM_FULL, "severity": "critical", "objects": objects}, config)
        assert request.exclusive
        assert request.approval
        assert "ACCESS EXCLUSIVE" in request.approval
        [item], reason = items.emergency(config, request.to_dict())
        assert reason is None
        assert item["action"] == "postgres.vacuum_full"
        assert gate.assigned_users(config) == [{"id": "carol", "name": "carol"}]
    # without vacuum_full in approvals.required_for, a critical request acts at once (post-hoc review)
    relaxed = cfg(approvals={"required_for": ["emergency_non_critical"]})
    assert validate({**VACUUM_FULL, "severity": "critical"}, relaxed).approval is None
    # a critical request of a shared-lock action never waits
    assert validate({**PARAMS, "severity": "critical"}, config).approval is None


def test_a_freeze_makes_non_critical_emergency_runs_wait_for_an_approval() -> None:
    freeze = {"freeze": [{"start": "2026-12-20T00:00Z", "end": "2027-01-04T00:00Z", "reason": "year-end"}]}
    config = cfg(emergency={"mode": "notice"}, guards=freeze)
    inside, outside = datetime(2026, 12, 24, tzinfo=UTC), datetime(2027, 1, 5, tzinfo=UTC)
    request = validate({**PARAMS, "severity": "non_critical"}, config, now=inside)
    assert request.approval is not None
    assert "year-end" in request.approval
    assert validate({**PARAMS, "severity": "non_critical"}, config, now=outside).approval is None
    # critical runs act in a freeze, marked for post-hoc review
    assert validate({**PARAMS, "severity": "critical"}, config, now=inside).approval is None


def test_separation_of_duties_takes_the_triggering_user_out_of_the_approvers() -> None:
    from mercenary_maintenance.runinfo import RunInfo

    run = RunInfo("emergency_maintenance", "r", triggered_by={"user": "alice"})
    config = cfg(approvals={"approvers": ["alice", "bob"]})
    assert gate.triggering_user(config, run) == "alice"
    assert gate.assigned_users(config, excluding="alice") == [{"id": "bob", "name": "bob"}]
    assert gate.assigned_users(cfg(approvals={"approvers": ["alice"]}), excluding="alice") is None
    off = cfg(approvals={"separation_of_duties": False})
    assert gate.triggering_user(off, run) is None


def test_entries_follow_the_report_contract() -> None:
    [entry] = gate.entries("postgres.approve_vacuum_full", [{"action": "postgres.vacuum_full", "target": "main"}],
                           chosen="Reject", user=None, at="2026-12-06T04:45:00+00:00", timed_out=True)
    assert {"task_id", "action", "target", "chosen", "user", "at", "timed_out"} <= set(entry)
    assert (entry["chosen"], entry["timed_out"]) == ("Reject", True)


def test_critical_runs_are_marked_for_post_hoc_review() -> None:
    req = validate({**PARAMS, "severity": "critical"}, cfg())
    text = notice.notice_text(req, user="alice", when=WINDOW.start, link="http://x/run")
    assert "needs post-hoc review" in text
    finding = notice.post_hoc_review(req, "alice")
    assert finding.check == "emergency.post_hoc_review"
    assert finding.severity.label == "warning"
    waiting = notice.notice_text(validate({**PARAMS, "severity": "non_critical"}, cfg()), user="a",
                                 when=WINDOW.start, link="l", approval=True)
    assert "Required Actions" in waiting
