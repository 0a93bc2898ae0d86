"""Pure backup logic: retention plans, freshness/capacity/redundancy verdicts, lifecycle diff, chains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mercenary_maintenance import bucket_lifecycle
from mercenary_maintenance.backups import keys, lifecycle, retention, verify
from mercenary_maintenance.backups.catalog import Backup, StoredFile, group
from mercenary_maintenance.backups.incremental import chain_to_restore, next_parent, prerequisites
from mercenary_maintenance.backups.manifest import Manifest
from mercenary_maintenance.config import BackupsConfig, parse_config
from mercenary_maintenance.findings import Severity, Threshold

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def backup(kind: str, age_days: float, good: bool = True, size: int = 100, stamp: str | None = None) -> Backup:
    when = NOW - timedelta(days=age_days)
    stamp = stamp or when.strftime("%Y%m%dT%H%M%SZ")
    b = Backup(kind, "main", stamp, f"postgres/{kind}/main/{stamp}/")
    b.files[keys.DUMP] = StoredFile(b.prefix + keys.DUMP, size, when)
    if good:
        b.files[keys.MANIFEST] = StoredFile(b.prefix + keys.MANIFEST, 1, when)
    return b


def test_full_retention_deletes_expired_but_never_the_newest_good_full():
    old, older_bad, recent = backup("full", 40), backup("full", 35, good=False), backup("full", 1)
    plan = retention.plan_full([older_bad, old, recent], 30, NOW)
    assert plan.delete == [older_bad, old]
    only_old = retention.plan_full([older_bad, old], 30, NOW)  # backups stopped for weeks
    assert only_old.delete == [older_bad]
    assert only_old.protected == [f"{old.prefix} (newest good full backup)"]


def test_full_retention_never_goes_below_min_redundancy():
    oldest, old, bad, recent = backup("full", 50), backup("full", 40), backup("full", 35, good=False), backup("full", 1)
    plan = retention.plan_full([oldest, old, bad, recent], 30, NOW, keep=2)
    assert plan.delete == [oldest, bad]  # old is expired but one of the 2 newest good ones
    assert plan.protected == [
        f"{old.prefix} (one of the 2 newest verified full backups kept for backups.min_redundancy)"]
    assert retention.plan_full([oldest, old, bad, recent], 30, NOW, keep=3).delete == [bad]


def test_full_retention_with_no_good_backup_at_all():
    broken = [backup("full", 40, good=False), backup("full", 35, good=False)]
    plan = retention.plan_full(broken, 30, NOW, keep=2)
    assert plan.delete == broken  # manifest-less leftovers: nothing good to protect
    assert plan.protected == []


def test_incremental_retention_keeps_every_link_a_retained_increment_needs():
    a1, a2 = backup("incremental", 9, stamp="a1"), backup("incremental", 8, stamp="a2")
    b1, b2 = backup("incremental", 7.5, stamp="b1"), backup("incremental", 1, stamp="b2")
    parents = {"a1": None, "a2": "a1", "b1": None, "b2": "b1"}
    plan = retention.plan_incremental([a1, a2, b1, b2], parents, 7, NOW)
    assert plan.delete == [a1, a2]  # b1 is expired but b2 still needs it
    assert plan.protected == [f"{b1.prefix} (needed by b2, inside the 7-day window)"]


def test_incremental_retention_keeps_the_newest_good_chain_not_the_newest_attempt():
    # Backups stopped 31 days ago; the last attempt failed (no manifest) and is the newest object.
    a1, a2 = backup("incremental", 40, stamp="a1"), backup("incremental", 39, stamp="a2")
    b1, b2 = backup("incremental", 33, stamp="b1"), backup("incremental", 32, stamp="b2")
    failed = backup("incremental", 31, good=False, stamp="c1")
    parents = {"a1": None, "a2": "a1", "b1": None, "b2": "b1"}
    plan = retention.plan_incremental([a1, a2, b1, b2, failed], parents, 7, NOW)
    assert plan.delete == [a1, a2, failed]
    assert [p.split(" ", 1)[0] for p in plan.protected] == [b1.prefix, b2.prefix]
    # a chain whose base is gone is not restorable: the newest *complete* chain is the one kept
    broken = retention.plan_incremental([a1, a2, b2], {"a1": None, "a2": "a1", "b2": "b1"}, 7, NOW)
    assert broken.delete == [b2]


def test_full_retention_counts_only_verified_backups_for_min_redundancy():
    oldest, old, newer, recent = (backup("full", 50), backup("full", 45), backup("full", 40), backup("full", 35))
    corrupt = {recent.prefix, newer.prefix}
    plan = retention.plan_full([oldest, old, newer, recent], 30, NOW, keep=2,
                               verifies=lambda b: b.prefix not in corrupt)
    assert plan.delete == [newer]  # the newest is kept anyway; old and oldest are the 2 that verify
    assert any("does not verify" in p for p in plan.protected)


def test_freshness_capacity_redundancy_verdicts():
    th = Threshold(26, 48)
    assert verify.freshness("main", "full", None, NOW, th).severity is Severity.CRITICAL
    assert verify.freshness("main", "full", backup("full", 0.5), NOW, th).severity is Severity.OK
    assert verify.freshness("main", "full", backup("full", 1.5), NOW, th).severity is Severity.WARNING
    grown = verify.capacity("main", [backup("full", 2, size=100), backup("full", 1, size=400)], Threshold(50, 200))
    assert grown.severity is Severity.CRITICAL
    assert grown.details["growth_percent"] == 300.0
    assert verify.redundancy("main", [backup("full", 1)], 2).severity is Severity.WARNING
    assert verify.redundancy("main", [backup("full", 1), backup("full", 2)], 2).severity is Severity.OK


def test_lifecycle_diff_detects_changed_retention_and_keeps_foreign_rules_out_of_the_comparison():
    cfg = BackupsConfig()
    current = [*lifecycle.desired_rules(cfg), {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}}]
    assert bucket_lifecycle.differences(lifecycle.desired_rules(cfg), current) == []
    changed = BackupsConfig(full={"retention_days": 60, "glacier_after_days": 14})
    problems = bucket_lifecycle.differences(lifecycle.desired_rules(changed), current)
    assert len(problems) == 1
    assert "mercenary-backup-full differs" in problems[0]


def test_no_lifecycle_rule_expires_backup_prefixes_and_an_expiring_one_is_critical():
    cfg = BackupsConfig()
    assert all("Expiration" not in r for r in lifecycle.desired_rules(cfg))
    assert lifecycle.check("b", cfg, lifecycle.desired_rules(cfg)).severity is Severity.OK
    old_style = [{**r, "Expiration": {"Days": 30}} for r in lifecycle.desired_rules(cfg)]
    finding = lifecycle.check("b", cfg, old_style)
    assert finding.severity is Severity.CRITICAL
    assert "mercenary-backup-full expires objects under s3://<bucket>/postgres/full/" in finding.message


def test_both_lifecycle_writers_are_given_every_areas_rules():
    from mercenary_maintenance.backups.tasks import ENSURE_LIFECYCLE
    from mercenary_maintenance.logs.tasks import ARCHIVE
    from mercenary_maintenance.wiring import registry

    # backup.lifecycle and logs.lifecycle write the one document: each from the rules of every area.
    for spec in (ENSURE_LIFECYCLE, ARCHIVE):
        assert spec.body.keywords == {"lifecycle_rules": registry.LIFECYCLE_RULES}
    cfg = parse_config({"logs": {"sets": [{"name": "app", "paths": ["/var/log/app/*.log"]}]}})
    ids = [r["ID"] for r in bucket_lifecycle.desired_rules(cfg, registry.LIFECYCLE_RULES)]
    assert ids == ["mercenary-backup-full", "mercenary-backup-incremental", "mercenary-logs-app"]


def test_grouping_ignores_foreign_keys_and_orders_by_time():
    t1, t2 = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    listed = [{"Key": "postgres/full/main/B/manifest.json", "Size": 1, "LastModified": t2},
              {"Key": "postgres/full/main/A/manifest.json", "Size": 1, "LastModified": t1},
              {"Key": "postgres/full/main/A/dump.pgc.zst", "Size": 9, "LastModified": t1},
              {"Key": "logs/app/x", "Size": 1, "LastModified": t1}]
    assert [b.stamp for b in group("postgres", listed)] == ["A", "B"]


def _m(stamp: str, parent: str | None, method: str, started: datetime) -> Manifest:
    return Manifest(target="main", kind="incremental", method=method, key=f"p/incremental/main/{stamp}/base.tar.zst",
                    size=1, sha256="x", server_version="18.0", client_version="", database="d",
                    started_at=started.isoformat(), finished_at=started.isoformat(), chain="c", parent=parent,
                    details={"chain_started_at": started.isoformat()})


def test_chain_walks_parents_and_new_chain_starts_when_old():
    base = (backup("incremental", 1, stamp="s1"), _m("s1", None, "pg_basebackup_full", NOW - timedelta(hours=9)))
    inc = (backup("incremental", 0.5, stamp="s2"), _m("s2", "s1", "pg_basebackup_incremental", NOW))
    assert [b.stamp for b, _ in chain_to_restore([base, inc])] == ["s1", "s2"]
    assert chain_to_restore([inc]) == []  # broken chain: base missing
    assert next_parent([base], NOW, timedelta(hours=24)) is base[1]
    assert next_parent([base], NOW, timedelta(hours=8)) is None
    assert prerequisites("off", True, "u")[0].startswith("summarize_wal is 'off'")
