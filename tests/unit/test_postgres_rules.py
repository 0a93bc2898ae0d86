"""Pure rules of the postgres area: rows in, findings out (no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mercenary_maintenance import packaged
from mercenary_maintenance.findings import Severity, Threshold
from mercenary_maintenance.pg import sql as sqlfiles
from mercenary_maintenance.pg.session import millis
from mercenary_maintenance.postgres import rules
from mercenary_maintenance.postgres.actions import split_name

COUNT = Threshold(0, 5)


def test_blocked_locks_names_both_sides_and_redacts_secrets():
    rows = [{"blocked_pid": 11, "blocking_pid": 7, "blocked_user": "app", "blocking_user": "ops", "wait_s": 12.5,
             "blocked_statement": "UPDATE t SET x = 1", "relation": "t",
             "current_statement_in_blocking_process": "ALTER ROLE app PASSWORD 'hunter2'"}]
    finding = rules.blocked_locks("postgres.blocked_locks", "main", rows, COUNT)
    assert finding.severity is Severity.WARNING
    assert finding.value == 1
    assert finding.details["blocked_pids"] == [11]
    assert "hunter2" not in str(finding.to_dict())
    assert "pids [11] by pids [7]" in finding.message


def test_no_blocked_locks_is_ok():
    finding = rules.blocked_locks("postgres.blocked_locks", "main", [], COUNT)
    assert (finding.severity, finding.value) == (Severity.OK, 0)


def test_long_transactions_count_idle_in_transaction():
    rows = [{"pid": 1, "state": "idle in transaction", "duration_s": 400.0, "query": "SELECT 1"},
            {"pid": 2, "state": "active", "duration_s": 350.0, "query": "SELECT 2"}]
    finding = rules.long_running_transactions("postgres.long_running_transactions", "main", rows, COUNT, 300)
    assert finding.value == 2
    assert finding.details["idle_in_transaction"] == 1
    assert "oldest 400s" in finding.message


def test_connections_percent_of_max():
    rows = [{"database": "app", "user": "a", "state": "active", "sessions": 250, "max_connections": 300, "reserved": 3},
            {"database": None, "user": None, "state": None, "sessions": 0, "max_connections": 300, "reserved": 3}]
    finding = rules.connections("postgres.connections", "main", rows, Threshold(80, 95))
    assert finding.value == pytest.approx(83.3)
    assert finding.severity is Severity.WARNING
    assert finding.details["by_database"] == {"app": 250}


def test_wraparound_uses_check_postgres_defaults():
    th = Threshold(1_300_000_000, 1_400_000_000)
    rows = [{"database": "a", "xid_age": 1_350_000_000, "mxid_age": 0}, {"database": "b", "xid_age": 5, "mxid_age": 0}]
    finding = rules.txid_wraparound("postgres.txid_wraparound", "main", rows, th)
    assert finding.severity is Severity.WARNING
    assert "'a'" in finding.message


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"last_value": 2**31 - 1, "min_value": 1, "max_value": 2**63 - 1, "increment_by": 1, "column_type": "integer"},
         100.0),
        ({"last_value": 50, "min_value": 1, "max_value": 101, "increment_by": 1, "column_type": None}, 49.0),
        ({"last_value": -50, "min_value": -101, "max_value": -1, "increment_by": -1, "column_type": None}, 49.0),
        ({"last_value": 5, "min_value": 1, "max_value": 10, "increment_by": 1, "cycle": True}, None),
    ],
)
def test_sequence_used_percent(row, expected):
    assert rules.sequence_used_percent({"cycle": False, **row}) == expected


def test_replication_lost_slot_is_critical():
    rows = [{"kind": "slot", "name": "s1", "type": "physical", "active": False, "lag_bytes": 10.0, "status": "lost"}]
    finding = rules.replication("postgres.replication", "main", rows, Threshold(1000, 2000))
    assert finding.severity is Severity.CRITICAL
    assert finding.details["lost_slots"] == ["s1"]


def test_dead_tuples_ignores_small_tables():
    rows = [{"schema": "public", "table_name": "tiny", "dead_tuples": 5, "dead_percent": 90.0, "live_tuples": 1},
            {"schema": "public", "table_name": "big", "dead_tuples": 5000, "dead_percent": 15.0, "live_tuples": 9}]
    finding = rules.dead_tuples("postgres.dead_tuples", "main", rows, Threshold(10, 20), min_dead=1000)
    assert finding.value == 15.0
    assert [t["table_name"] for t in finding.details["tables"]] == ["big"]


def test_slow_queries_absent_extension_is_unknown_with_howto():
    finding = rules.slow_queries("postgres.slow_queries", "main", None, Threshold(500, 2000))
    assert finding.severity is Severity.UNKNOWN
    assert "shared_preload_libraries" in finding.message


def test_cache_hit_ratio_below_is_bad():
    rows = [{"schema": None, "table_name": None, "hits": 90.0, "reads": 10.0},
            {"schema": "public", "table_name": "t", "hits": 1.0, "reads": 1.0}]
    finding = rules.cache_hit_ratio("postgres.cache_hit_ratio", "main", rows, Threshold(99, 95, "below"))
    assert (finding.value, finding.severity) == (90.0, Severity.CRITICAL)
    assert finding.details["tables_most_read_from_disk"][0]["hit_percent"] == 50.0


def test_bloat_reports_worst_and_unestimated():
    rows = [{"kind": "table", "schema": "public", "name": "t", "bloat_percent": 70.0, "wasted_bytes": 2**21},
            {"kind": "index", "schema": "public", "name": "i", "bloat_percent": None, "wasted_bytes": None}]
    finding = rules.bloat("postgres.bloat", "main", rows, Threshold(30, 50))
    assert finding.severity is Severity.CRITICAL
    assert finding.details["not_estimated"] == ["public.i"]


def test_role_audit_flags_and_allow_list():
    far = datetime(2100, 1, 1, tzinfo=UTC)
    rows = [{"role": "postgres", "superuser": True, "can_login": True, "valid_until": None, "connected_now": True,
             "owns_grants_or_members": True},
            {"role": "old", "superuser": False, "can_login": True, "valid_until": far, "connected_now": False,
             "owns_grants_or_members": False},
            {"role": "app", "superuser": False, "can_login": True, "valid_until": far, "connected_now": True,
             "owns_grants_or_members": True}]
    finding = rules.role_audit("postgres.role_audit", "main", rows, COUNT, allow=["postgres"])
    assert finding.value == 1
    flagged = {r["role"]: r["flags"] for r in finding.details["roles"]}
    assert flagged == {"postgres": ["superuser", "login_without_password_expiry"], "old": ["possibly_unused"]}


def test_sql_variant_picked_by_server_version():
    assert "blocked_locks.waitstart" in sqlfiles.text("blocked_locks", 180000)
    assert "blocked_locks.waitstart" not in sqlfiles.text("blocked_locks", 130012)
    assert "s.last_idx_scan" in sqlfiles.text("unused_indexes", 160000)
    assert "s.last_idx_scan" not in sqlfiles.text("unused_indexes", 150004)
    assert sqlfiles.text("unused_indexes", 160000).count("AS last_idx_scan") == 0  # one column, not both
    with pytest.raises(sqlfiles.UnsupportedServer):
        sqlfiles.text("blocked_locks", 120000)


def test_every_check_has_sql_without_string_formatting():
    names = packaged.sql_names("postgres")
    assert "blocked_locks" in names
    for name in names:
        for version in (130000, 140000, 160000, 180000):
            text = sqlfiles.text(name, version)
            assert "%s" not in text, name  # named bind parameters only
            assert text.strip(), name
            assert "-- pg>=" not in text, name  # markers resolved
            assert "-- pg<" not in text, name


def test_names_and_durations():
    assert split_name("s.t.x") == ("s", "t.x")
    assert split_name(".t") == (".t",)
    assert millis(0) == "1ms"
    assert rules.redact("x" * 400, 10) == "x" * 9 + "…"


def test_checksum_failures_name_the_databases_and_say_when_checksums_are_off():
    name = "postgres.checksum_failures"
    bad = rules.checksum_failures(name, "main", [
        {"database": "app", "failures": 3, "last_failure": "2026-12-01 01:00", "checksums_enabled": True},
        {"database": "other", "failures": 0, "last_failure": None, "checksums_enabled": True}], Threshold(0, 0))
    assert (bad.check, bad.severity, bad.value) == (name, Severity.CRITICAL, 3)
    assert "in app;" in bad.message
    assert [d["database"] for d in bad.details["databases"]] == ["app"]
    off = rules.checksum_failures(name, "main", [
        {"database": "app", "failures": 0, "last_failure": None, "checksums_enabled": False}], Threshold(0, 0))
    assert off.severity is Severity.OK
    assert "checksums are off" in off.message


class _Rows:
    """A stand-in session for the table test: every query answers no rows (the rules' quiet case)."""

    def rows(self, name, params=None, **_):
        return []


def test_every_row_of_the_check_table_measures_under_its_own_name():
    from mercenary_maintenance.config import parse_config
    from mercenary_maintenance.postgres import checks

    cfg = parse_config({"targets": {"postgres": [{"name": "main"}]}})
    assert len({c.name for c in checks.CHECKS}) == len(checks.CHECKS)
    assert {c.cadence for c in checks.CHECKS} == set(checks.CADENCES)
    for check in checks.CHECKS:
        found = check.measure(_Rows(), cfg, "main")  # type: ignore[arg-type]
        assert (found.check, found.target) == (check.name, "main"), check.name
    assert set(checks.DAILY_CHECKS) | set(checks.WEEKLY_CHECKS) | set(checks.MONTHLY_CHECKS) == set(checks.CHECKS)
