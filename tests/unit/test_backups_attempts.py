"""Pure logic of per-attempt backups and safe restores: layout parsing (old and new), one good
backup per date, superseded attempts, retention order, restore size refusal, scratch markers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mercenary_maintenance.backups import catalog, destination, keys, restore, retention, verify
from mercenary_maintenance.backups.manifest import Manifest
from mercenary_maintenance.config import BackupsConfig

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def listed(key: str, minutes_ago: float, size: int = 10) -> dict[str, Any]:
    return {"Key": key, "Size": size, "LastModified": NOW - timedelta(minutes=minutes_ago)}


def attempt(stamp: str, name: str, minutes_ago: float, good: bool = True) -> list[dict[str, Any]]:
    base = f"postgres/full/main/{stamp}/{name}/" if name else f"postgres/full/main/{stamp}/"
    rows = [listed(base + keys.DUMP, minutes_ago + 1), listed(base + keys.GLOBALS, minutes_ago + 1)]
    return rows + ([listed(base + keys.MANIFEST, minutes_ago)] if good else [])


def test_old_and_new_layouts_group_into_one_backup_per_attempt():
    rows = attempt("d1", "", 300) + attempt("d2", "a01-aaaaaa", 200, good=False) + attempt("d2", "a02-bbbbbb", 100)
    backups = catalog.group("postgres", rows)
    assert [(b.stamp, b.attempt, b.good) for b in backups] == [("d1", "", True), ("d2", "a01-aaaaaa", False),
                                                                ("d2", "a02-bbbbbb", True)]
    assert backups[0].prefix == "postgres/full/main/d1/"
    assert backups[2].prefix == "postgres/full/main/d2/a02-bbbbbb/"


def test_a_manifest_without_its_data_object_is_not_good():
    rows = [listed("postgres/full/main/d1/a01-aaaaaa/" + keys.MANIFEST, 1)]
    assert not catalog.group("postgres", rows)[0].good


def test_current_keeps_the_newest_good_attempt_per_date_and_the_rest_is_superseded():
    rows = attempt("d1", "a01-aaaaaa", 300) + attempt("d1", "a02-bbbbbb", 200) + attempt("d2", "a01-cccccc", 100)
    backups = catalog.group("postgres", rows)
    assert [b.attempt for b in catalog.current(backups)] == ["a02-bbbbbb", "a01-cccccc"]
    assert [b.attempt for b in catalog.superseded(backups)] == ["a01-aaaaaa"]
    # redundancy counts dates, not attempts
    assert verify.redundancy("main", backups, 2).details["good_full_backups"] == 2


def test_retention_deletes_superseded_attempts_whatever_their_age_but_keeps_the_current_one():
    rows = attempt("d1", "a01-aaaaaa", 30) + attempt("d1", "a02-bbbbbb", 20)
    backups = catalog.group("postgres", rows)
    plan = retention.plan_full(backups, 30, NOW, keep=2)
    assert [b.attempt for b in plan.delete] == ["a01-aaaaaa"]


def test_retention_deletes_manifests_before_objects():
    calls: list[list[str]] = []

    class Client:
        def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
            calls.append([o["Key"] for o in Delete["Objects"]])
            return {}

    retention.delete(Client(), "b", ["x/a/dump.pgc.zst", "x/a/manifest.json", "x/b/globals.sql.zst",
                                     "x/b/manifest.json"])
    flat = calls[0]
    assert flat[:2] == ["x/a/manifest.json", "x/b/manifest.json"]


def manifest(**details: Any) -> Manifest:
    return Manifest("main", "full", "pg_dump", "postgres/full/main/d1/a01-x/dump.pgc.zst", 500, "s",
                    "15.8 (Debian 15.8-1)", "", "db", "", "", details=details)


def test_restore_refusal_names_both_sizes_and_uses_the_biggest_estimate():
    m = manifest(database_bytes=9_000_000, raw_size=4_000_000)
    assert destination.estimated_bytes(m) == 9_000_000
    assert destination.refusal(m, 9_000_000) is None
    why = destination.refusal(m, 8_000_000)
    assert why is not None
    assert "needs about 9000000 bytes" in why
    assert "restore_max_bytes 8000000" in why
    assert destination.estimated_bytes(manifest()) == 500  # an older manifest: at least the stored size
    assert destination.source_major(m) == 15


def test_target_server_without_max_bytes_is_a_config_error():
    with pytest.raises(ValueError, match="restore_max_bytes"):
        BackupsConfig(restore_on="target_server")
    assert BackupsConfig().restore_on == "scratch_server"
    assert BackupsConfig(restore_on="target_server", restore_max_bytes=1).restore_max_bytes == 1


def test_scratch_marker_names_exactly_one_target():
    assert restore.marked_target(restore.marker("main", "run")) == "main"
    assert restore.marked_target(restore.marker("main_eu", "run")) == "main_eu"
    assert restore.marked_target("mercenary-maintenance scratch: target=main") is None  # no run
    assert restore.marked_target("production database, do not drop") is None
    a, b = restore.scratch_name("main", "r", 1), restore.scratch_name("main", "r", 1)
    assert a != b  # unique per run, even for the same run id and try
