"""docs/checks.md names every check and action the package can emit, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AREAS = "postgres|redis|backup|host|app|tls|http|services|security|logs|tmp|alerts|window|reviews|emergency"
NAME = re.compile(rf'"((?:{AREAS})\.[a-z][a-z0-9_]*)"')
NOT_CHECKS = {"app.log", "redis.log"}  # logger names, not findings


def emitted_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "plugins" / "mercenary_maintenance").rglob("*.py"):
        names.update(NAME.findall(path.read_text()))
    return names - NOT_CHECKS


def test_catalogue_lists_every_emitted_name() -> None:
    catalogue = (ROOT / "docs" / "checks.md").read_text()
    documented = set(re.findall(rf"`((?:{AREAS})\.[a-z][a-z0-9_]*)`", catalogue))
    missing = emitted_names() - documented
    assert not missing, f"add to docs/checks.md: {sorted(missing)}"
    stale = documented - emitted_names()
    assert not stale, f"docs/checks.md names what the code never emits: {sorted(stale)}"


def test_design_contract_names_are_all_implemented() -> None:
    design = [
        "postgres.blocked_locks", "postgres.long_running_transactions", "postgres.dead_tuples",
        "postgres.txid_wraparound", "postgres.connections", "postgres.cache_hit_ratio", "postgres.slow_queries",
        "postgres.unused_indexes", "postgres.role_audit", "postgres.vacuum_analyze", "postgres.reindex",
        "postgres.vacuum_full", "redis.memory", "redis.slowlog", "redis.persistence", "redis.hit_ratio",
        "redis.memory_purge", "redis.bgrewriteaof", "backup.full", "backup.incremental", "backup.freshness",
        "backup.integrity", "backup.restore_test", "backup.retention", "host.cpu", "host.memory",
        "host.disk_usage", "host.inode_usage", "app.error_rate", "app.latency_p95", "tls.certificate_expiry",
        "http.security_headers", "services.status", "logs.archive", "logs.retention", "tmp.cleanup",
    ]
    assert not set(design) - emitted_names()
