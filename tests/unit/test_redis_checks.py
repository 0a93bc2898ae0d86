"""Pure Redis checks and action decisions over INFO dicts (no server)."""

from __future__ import annotations

import time

from mercenary_maintenance.findings import Severity, Threshold
from mercenary_maintenance.redis.actions import purge_skip_reason, rewrite_finished, rewrite_skip_reason
from mercenary_maintenance.redis.info import sanitize
from mercenary_maintenance.redis.memory import FragLimits, check_memory
from mercenary_maintenance.redis.persistence import check_persistence
from mercenary_maintenance.redis.slowlog import check_slowlog, describe_command, parse_entries
from mercenary_maintenance.redis.stats import check_hit_ratio, check_replication

MEM = Threshold(80, 95)
FRAG = FragLimits(ratio=1.5, min_bytes=100 * 2**20)
MiB = 2**20


def _mem(**kw: object) -> dict[str, object]:
    info: dict[str, object] = {"used_memory": 10 * MiB, "used_memory_rss": 12 * MiB, "maxmemory": 100 * MiB,
                               "mem_allocator": "jemalloc-5.3.0"}
    info.update(kw)
    return info


def test_memory_percent_of_maxmemory_uses_the_evaluator():
    assert check_memory("c", _mem(used_memory=50 * MiB, used_memory_rss=60 * MiB), MEM, FRAG).severity is Severity.OK
    warn = check_memory("c", _mem(used_memory=85 * MiB, used_memory_rss=90 * MiB), MEM, FRAG)
    assert (warn.severity, warn.value, warn.threshold) == (Severity.WARNING, 85.0, 80)
    full = check_memory("c", _mem(used_memory=99 * MiB, used_memory_rss=99 * MiB), MEM, FRAG)
    assert full.severity is Severity.CRITICAL


def test_memory_without_maxmemory_is_judged_against_system_memory():
    finding = check_memory("c", _mem(maxmemory=0, total_system_memory=1000 * MiB), MEM, FRAG)
    assert finding.value == 1.0
    assert "no maxmemory" in finding.message


def test_high_fragmentation_ratio_with_few_bytes_is_not_a_problem():
    finding = check_memory("c", _mem(mem_fragmentation_ratio=13.8, mem_fragmentation_bytes=11 * MiB,
                                     allocator_frag_ratio=3.0, allocator_frag_bytes=2 * MiB), MEM, FRAG)
    assert finding.severity is Severity.OK
    assert finding.details["fragmented"] is False
    assert finding.details["fragmentation_source"] == "allocator_frag"


def test_fragmentation_needs_ratio_and_bytes():
    many_bytes_low_ratio = _mem(allocator_frag_ratio=1.2, allocator_frag_bytes=500 * MiB)
    assert check_memory("c", many_bytes_low_ratio, MEM, FRAG).severity is Severity.OK
    both = _mem(allocator_frag_ratio=1.8, allocator_frag_bytes=500 * MiB)
    finding = check_memory("c", both, MEM, FRAG)
    assert finding.severity is Severity.WARNING
    assert "fragmented" in finding.message


def test_fragmentation_falls_back_to_mem_fragmentation_fields():
    finding = check_memory("c", _mem(mem_fragmentation_ratio=2.0, mem_fragmentation_bytes=300 * MiB), MEM, FRAG)
    assert finding.details["fragmentation_source"] == "mem_fragmentation"
    assert finding.severity is Severity.WARNING


def test_used_above_rss_suggests_swap():
    finding = check_memory("c", _mem(used_memory=50 * MiB, used_memory_rss=20 * MiB), MEM, FRAG)
    assert finding.severity is Severity.WARNING
    assert finding.details["swap_suspected"] is True


def test_slowlog_commands_are_redacted_and_truncated():
    assert describe_command([b"AUTH", b"hunter2"]) == "AUTH ***"
    assert "hunter2" not in describe_command([b"CONFIG", b"SET", b"requirepass", b"hunter2"])
    assert "hunter2" not in describe_command([b"ACL", b"SETUSER", b"bob", b">hunter2", b"on"])
    assert "hunter2" not in describe_command([b"MIGRATE", b"h", b"1", b"k", b"0", b"5", b"AUTH", b"hunter2"])
    long = describe_command([b"SET", b"k", b"x" * 500])
    assert "x" * 33 not in long
    assert "500 chars" in long
    many = describe_command([b"MSET", *[b"a"] * 20])
    assert many.endswith("…(+16 args)")


def test_slowlog_warns_on_entries_over_the_limit():
    raw = [[3, int(time.time()), 250_000, [b"DEBUG", b"SLEEP", b"0.25"], b"127.0.0.1:1", b""],
           [2, int(time.time()), 5_000, [b"KEYS", b"*"], b"127.0.0.1:1", b""]]
    finding = check_slowlog("c", parse_entries(raw), Threshold(100, 1000))
    assert finding.severity is Severity.WARNING
    assert finding.value == 250.0
    assert finding.details["over_threshold"] == 1
    assert check_slowlog("c", [], Threshold(100, 1000)).severity is Severity.OK


def test_persistence_failures():
    now = time.time()
    ok = {"rdb_last_bgsave_status": "ok", "rdb_last_save_time": now - 60, "aof_enabled": 1,
          "aof_last_write_status": "ok", "aof_last_bgrewrite_status": "ok"}
    assert check_persistence("c", ok, now, 26).severity is Severity.OK
    assert check_persistence("c", ok | {"rdb_last_bgsave_status": "err"}, now, 26).severity is Severity.CRITICAL
    assert check_persistence("c", ok | {"aof_last_write_status": "err"}, now, 26).severity is Severity.CRITICAL
    assert check_persistence("c", ok | {"aof_last_bgrewrite_status": "err"}, now, 26).severity is Severity.WARNING
    stale = ok | {"aof_enabled": 0, "rdb_last_save_time": now - 30 * 3600, "rdb_changes_since_last_save": 5}
    assert check_persistence("c", stale, now, 26).severity is Severity.WARNING


def test_hit_ratio_needs_enough_lookups():
    th = Threshold(90, 80, "below")
    assert check_hit_ratio("c", {"keyspace_hits": 1, "keyspace_misses": 9}, th, 1000).severity is Severity.OK
    low = check_hit_ratio("c", {"keyspace_hits": 100, "keyspace_misses": 900}, th, 1000)
    assert (low.severity, low.value) == (Severity.CRITICAL, 10.0)


def test_replication_only_for_replicas():
    assert check_replication("c", {"role": "master"}) is None
    down = check_replication("c", {"role": "slave", "master_link_status": "down"})
    assert down is not None
    assert down.severity is Severity.CRITICAL


def test_sanitize_drops_secret_looking_keys():
    clean = sanitize({"masterauth": "pw", "requirepass": "pw", "role": "master", "db0": {"keys": 1}})
    assert clean == {"role": "master", "db0": {"keys": 1}}


def test_purge_only_with_jemalloc():
    assert purge_skip_reason({"mem_allocator": "jemalloc-5.3.0"}) is None
    assert "libc" in (purge_skip_reason({"mem_allocator": "libc"}) or "")


def test_rewrite_skip_reasons_and_completion():
    assert rewrite_skip_reason({"aof_enabled": 1}) is None
    assert "disabled" in (rewrite_skip_reason({"aof_enabled": 0}) or "")
    assert "in progress" in (rewrite_skip_reason({"aof_enabled": 1, "aof_rewrite_scheduled": 1}) or "")
    assert "RDB" in (rewrite_skip_reason({"aof_enabled": 1, "rdb_bgsave_in_progress": 1}) or "")
    assert not rewrite_finished({"aof_rewrite_in_progress": 1, "aof_rewrites": 1}, 0)
    assert rewrite_finished({"aof_rewrite_in_progress": 0, "aof_rewrites": 1, "aof_last_bgrewrite_status": "ok"}, 0)
    assert not rewrite_finished({"aof_rewrite_in_progress": 0, "aof_rewrites": 0, "aof_last_bgrewrite_status": "ok"}, 0)
