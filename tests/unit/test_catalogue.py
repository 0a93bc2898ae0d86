"""docs/checks.md names every check and action the package can emit, and nothing else.

The PostgreSQL and Redis checks come from their check tables (``postgres.checks.CHECKS``,
``redis.checks.CHECKS``), and docs/checks.md's table of them is generated from those tables;
the other areas' names are found in the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AREAS = ("postgres|redis|backup|host|app|tls|http|services|security|logs|tmp|alerts|window|reviews|emergency|monitoring"
         "|airflow_db")
NAME = re.compile(rf'"((?:{AREAS})\.[a-z][a-z0-9_]*)"')
NOT_CHECKS = {"app.log", "redis.log"}  # logger names, not findings
# The doctor's lines and the plan's switches name preflight items and config keys, not findings
# (their catalogue is docs/doctor.md).
NOT_EMITTING = ("doctor/", "switches.py")


def _emitting(path: Path) -> bool:
    return not str(path.relative_to(ROOT / "plugins" / "mercenary_maintenance")).startswith(NOT_EMITTING)


def table_names() -> set[str]:
    """The checks of the PostgreSQL and Redis check tables."""
    from mercenary_maintenance.postgres import checks as pg_checks
    from mercenary_maintenance.redis import checks as redis_checks

    return set(pg_checks.NAMES | redis_checks.NAMES)


def emitted_names() -> set[str]:
    names: set[str] = set(table_names())
    for path in (ROOT / "plugins" / "mercenary_maintenance").rglob("*.py"):
        if _emitting(path):
            names.update(NAME.findall(path.read_text()))
    return names - NOT_CHECKS


TABLES_HEADER = "## PostgreSQL and Redis checks"


def check_tables() -> str:
    """docs/checks.md's check table, generated from the check tables: a check's SQL (or what it
    reads), its rule, its threshold key, its cadence and the task that runs it."""
    from mercenary_maintenance.postgres import checks as pg_checks
    from mercenary_maintenance.redis import checks as redis_checks

    def rule(fn: object) -> str:
        module = str(getattr(fn, "__module__", "")).removeprefix("mercenary_maintenance.").replace(".", "/")
        return f"`{module}.py` `{getattr(fn, '__name__', fn)}`"

    rows = [f"| `{c.name}` | {c.cadence} | `{pg_checks.TASK_OF_CADENCE[c.cadence]}` | "
            f"`include/sql/postgres/{c.sql}.sql` | {rule(c.rule)} | `thresholds.{c.threshold}` |"
            for c in pg_checks.CHECKS]
    rows += [f"| `{c.name}` | {c.cadence} | `{redis_checks.TASK_OF_CADENCE[c.cadence]}` | {c.reads} | "
             f"{rule(c.rule)} | {f'`thresholds.{c.threshold}`' if c.threshold else '—'} |"
             for c in redis_checks.CHECKS]
    return "\n".join([TABLES_HEADER, "", "Generated from `postgres/checks.py` and `redis/checks.py` (`CHECKS`) by "
                      "`tests/unit/test_catalogue.py`: one row per check, declared once there.", "",
                      "| check | cadence | task (in its area's group) | SQL / reads | rule | threshold |",
                      "|---|---|---|---|---|---|",
                      *rows, ""])


def test_the_check_table_matches_the_check_tables() -> None:
    catalogue = (ROOT / "docs" / "checks.md").read_text()
    assert TABLES_HEADER in catalogue, "docs/checks.md lacks the generated check table"
    written = TABLES_HEADER + catalogue.split(TABLES_HEADER, 1)[1].split("\n## ", 1)[0]
    assert written.strip() == check_tables().strip(), (
        "docs/checks.md's check table is stale; regenerate: python -c 'import tests.unit.test_catalogue as t; "
        "print(t.check_tables())'")


def test_every_postgres_check_has_its_sql_file_and_its_threshold_key() -> None:
    from mercenary_maintenance.config import Thresholds
    from mercenary_maintenance.postgres import checks as pg_checks
    from mercenary_maintenance.redis import checks as redis_checks

    for c in pg_checks.CHECKS:
        sql = ROOT / "include" / "sql" / "postgres" / f"{c.sql}.sql"
        assert sql.exists(), c.name
        assert sql.read_text().startswith(f"-- {c.name}:"), f"{sql}: first comment line names {c.name}"
        assert c.threshold in Thresholds.model_fields, c.name
    for r in redis_checks.CHECKS:
        assert r.threshold is None or r.threshold in Thresholds.model_fields, r.name


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


DEFINED_HEADER = "## Where each name is defined"
CONSUMERS = ("console/", "report/", "notify.py", "preview/", "plan.py", "postgres/preview.py", "redis/preview.py",
             "approvals/", "config/", "alerts/findings.py", "reviews/compose.py", "registry.py", "demo/")


def defined_in() -> str:
    """The "defined in" table: each emitted name, the modules that emit it, the SQL files that
    compute it (a file whose first comment line starts with the name)."""
    package = ROOT / "plugins" / "mercenary_maintenance"
    modules: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        if "include" in path.relative_to(package).parts or not _emitting(path):
            continue
        for name in set(NAME.findall(path.read_text())) - NOT_CHECKS:
            modules.setdefault(name, set()).add(str(path.relative_to(package)))
    sql: dict[str, set[str]] = {}
    for path in sorted((ROOT / "include" / "sql").rglob("*.sql")):
        first = path.read_text().split("\n", 1)[0]
        match = re.match(rf"-- ((?:{AREAS})\.[a-z][a-z0-9_]*)", first)
        if match:
            sql.setdefault(match[1], set()).add(str(path.relative_to(ROOT / "include")))
    def defining(name: str) -> set[str]:
        # Modules that only read or show the name (console, report, notices, preview) are left out.
        own = {m for m in modules[name] if not m.startswith(CONSUMERS)}
        return own or modules[name]

    rows = [f"| `{name}` | {', '.join(f'`{m}`' for m in sorted(defining(name)))} | "
            f"{', '.join(f'`{s}`' for s in sorted(sql.get(name, ()))) or '—'} |" for name in sorted(modules)]
    return "\n".join([DEFINED_HEADER, "", "Generated from the code by `tests/unit/test_catalogue.py` (modules under "
                      "`plugins/mercenary_maintenance/`, SQL under `include/`).", "",
                      "| name | defined in | SQL |", "|---|---|---|", *rows, ""])


def test_the_defined_in_table_matches_the_code() -> None:
    catalogue = (ROOT / "docs" / "checks.md").read_text()
    assert DEFINED_HEADER in catalogue, "docs/checks.md lacks the 'defined in' table"
    written = DEFINED_HEADER + catalogue.split(DEFINED_HEADER, 1)[1]
    assert written.strip() == defined_in().strip(), (
        "docs/checks.md's table is stale; regenerate: python -c 'import tests.unit.test_catalogue as t; "
        "print(t.defined_in())'")
