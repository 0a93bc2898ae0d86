"""Planned vs done (pure): each planned item's outcome from the window run's actions."""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.report.planned import attach_planned, not_planned, outcome
from mercenary_maintenance.report.store import open_store

VACUUM = {"action": "postgres.vacuum_analyze", "target": "main", "objects": ["public.events", "public.orders"]}
RESTORE = {"action": "backup.restore_test", "target": "main", "objects": ["main"]}


def act(action: str, status: str, message: str = "", statement: str | None = None, target: str = "main",
        duration: float = 1.0) -> dict[str, Any]:
    details = {"statement": statement} if statement else {}
    return {"action": action, "target": target, "status": status, "message": message or status,
            "duration_s": duration, "details": details}


def test_done_when_every_planned_object_was_done() -> None:
    actions = [act("postgres.vacuum_analyze", "done", statement='VACUUM (ANALYZE) "public"."events"'),
               act("postgres.vacuum_analyze", "done", statement='VACUUM (ANALYZE) "public"."orders"', duration=2)]
    result = outcome(VACUUM, actions, [])
    assert (result["outcome"], result["why"], result["duration_s"]) == ("done", None, 3.0)


def test_skipped_names_why_and_the_objects_not_acted_on() -> None:
    actions = [act("postgres.vacuum_analyze", "done", statement='VACUUM (ANALYZE) "public"."events"'),
               act("postgres.vacuum_analyze", "skipped", "public.orders: could not get its lock within 5s",
                   statement='VACUUM (ANALYZE) "public"."orders"')]
    result = outcome(VACUUM, actions, [])
    assert result["outcome"] == "skipped"
    assert "could not get its lock" in result["why"]
    nothing = outcome(VACUUM, [act("postgres.vacuum_analyze", "skipped", "no table above the threshold")], [])
    assert nothing["outcome"] == "skipped"
    assert "no table above the threshold" in nothing["why"]
    assert "public.events" in nothing["why"]


def test_failed_and_not_run() -> None:
    assert outcome(RESTORE, [act("backup.restore_test", "failed", "no good full backup")], [])["why"] == \
        "no good full backup"
    missing = outcome(RESTORE, [], ["backups.restore_test[0]: not started: past the window cutoff"])
    assert missing["outcome"] == "not_run"
    assert "past the window cutoff" in missing["why"]


def test_rejected_approval_shows_as_skipped_with_the_reason() -> None:
    item = {"action": "postgres.vacuum_full", "target": "main", "objects": ["public.ledger"]}
    result = outcome(item, [act("postgres.vacuum_full", "skipped", "not approved: rejected by bob at 2026")], [])
    assert result["outcome"] == "skipped"
    assert "rejected by bob" in result["why"]


def test_changes_nobody_planned_are_listed() -> None:
    actions = [act("postgres.vacuum_analyze", "done", statement='VACUUM (ANALYZE) "public"."surprise"'),
               act("postgres.vacuum_analyze", "done", statement='VACUUM (ANALYZE) "public"."events"'),
               act("redis.memory_purge", "done", target="cache"), act("postgres.analyze", "done")]
    extra = not_planned([VACUUM], actions)
    assert [(e["action"], e["target"]) for e in extra] == [("postgres.vacuum_analyze", "main"),
                                                           ("redis.memory_purge", "cache")]
    assert "surprise" in extra[0]["objects"][0]


def test_scheduled_run_uses_the_preview_of_its_own_window(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    for run_id, start in (("scheduled__2026-12-05T02:00:00+00:00", "2026-12-06T02:00:00+00:00"),
                          ("scheduled__2026-12-12T02:00:00+00:00", "2026-12-13T02:00:00+00:00")):
        store.write_report({"dag_id": "maintenance_preview", "run_id": run_id,
                            "plan": [{**VACUUM, "window_dag_id": "maintenance_weekly", "window_start": start}],
                            "previewed_windows": [{"window_dag_id": "maintenance_weekly", "start": start,
                                                   "end": "x"}]}, "")
    report: dict[str, Any] = {"dag_id": "maintenance_weekly", "actions": [], "tasks": [],
                              "window": {"start": "2026-12-06T02:00:00+00:00", "end": "2026-12-06T04:00:00+00:00"}}
    attach_planned(store, report)
    assert report["planned_from"]["run_id"] == "scheduled__2026-12-05T02:00:00+00:00"
    assert [p["outcome"] for p in report["planned"]] == ["not_run"]
    manual: dict[str, Any] = {"dag_id": "maintenance_weekly", "actions": [], "tasks": [], "window": None}
    attach_planned(store, manual)
    assert manual["planned_from"]["run_id"] == "scheduled__2026-12-12T02:00:00+00:00"  # the newest
    daily: dict[str, Any] = {"dag_id": "maintenance_daily", "actions": [], "tasks": [], "window": None}
    attach_planned(store, daily)
    assert "planned" not in daily
