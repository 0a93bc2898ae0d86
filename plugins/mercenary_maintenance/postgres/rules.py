"""Pure PostgreSQL check rules: rows (dicts, as the SQL files return them) -> :class:`Finding`.

No I/O here, so every rule is unit-tested without a server. Thresholds are compared only
through :func:`mercenary_maintenance.findings.measured` (the one evaluator). Every finding
names the objects involved in ``details`` (pids, tables, indexes, roles).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from mercenary_maintenance.findings import Finding, Severity, Threshold, measured

Row = dict[str, Any]
MAX_LISTED = 50
_TYPE_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}
_TYPE_MIN = {"smallint": -(2**15), "integer": -(2**31), "bigint": -(2**63)}

SLOW_QUERIES_HOWTO = (
    "pg_stat_statements is not installed in this database: add it to shared_preload_libraries "
    "(restart needed), then run CREATE EXTENSION pg_stat_statements; in this database"
)


def redact(query: str | None, limit: int = 300) -> str | None:
    """Statement text for a report (:func:`mercenary_maintenance.redact.statement`, the one
    redaction of SQL text): masked, shortened, and hidden when it may carry a secret.

    >>> redact("ALTER ROLE app PASSWORD 'x'")
    '<redacted: statement may contain a secret>'
    >>> redact("SELECT 1")
    'SELECT 1'
    """
    from mercenary_maintenance.redact import statement

    return statement(query, limit)


def plain(value: Any) -> Any:
    """JSON-friendly scalars for report details."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 3)
    return value


def _clean(row: Row, drop: Sequence[str] = ()) -> Row:
    return {k: plain(v) for k, v in row.items() if k not in drop}


def _names(rows: Sequence[Row], *keys: str) -> list[str]:
    return [".".join(str(r[k]) for k in keys if r.get(k) is not None) for r in rows]


def blocked_locks(check: str, target: str, rows: Sequence[Row], threshold: Threshold) -> Finding:
    """Value: number of distinct blocked sessions."""
    blocked = sorted({int(r["blocked_pid"]) for r in rows})
    pairs = []
    for r in rows[:MAX_LISTED]:
        pair = _clean(r, ("blocked_statement", "current_statement_in_blocking_process"))
        pair["blocked_statement"] = redact(r.get("blocked_statement"))
        pair["blocking_statement"] = redact(r.get("current_statement_in_blocking_process"))
        pairs.append(pair)
    longest = max((float(r["wait_s"] or 0) for r in rows), default=0.0)
    if blocked:
        message = (
            f"{len(blocked)} session(s) waiting for a lock, longest {longest:.1f}s; blocked pids "
            f"{blocked[:10]} by pids {sorted({int(r['blocking_pid']) for r in rows})[:10]}"
        )
    else:
        message = "no session is waiting for a lock"
    return measured(
        check,
        target,
        len(blocked),
        threshold,
        message,
        {"pairs": pairs, "blocked_pids": blocked, "longest_wait_s": round(longest, 3)},
    )


def _sessions(rows: Sequence[Row]) -> list[Row]:
    listed = []
    for r in rows[:MAX_LISTED]:
        item = _clean(r, ("query",))
        item["query"] = redact(r.get("query"))
        listed.append(item)
    return listed


def long_running_transactions(check: str, target: str, rows: Sequence[Row], threshold: Threshold, limit_s: float
                              ) -> Finding:
    idle = [r for r in rows if str(r.get("state") or "").startswith("idle in transaction")]
    if rows:
        message = (
            f"{len(rows)} transaction(s) open longer than {limit_s:g}s ({len(idle)} idle in transaction), "
            f"oldest {max(float(r['duration_s']) for r in rows):.0f}s: pids {[r['pid'] for r in rows][:10]}"
        )
    else:
        message = f"no transaction open longer than {limit_s:g}s"
    return measured(
        check,
        target,
        len(rows),
        threshold,
        message,
        {"limit_s": limit_s, "idle_in_transaction": len(idle), "sessions": _sessions(rows)},
    )


def long_running_queries(check: str, target: str, rows: Sequence[Row], threshold: Threshold, limit_s: float) -> Finding:
    if rows:
        message = f"{len(rows)} statement(s) running longer than {limit_s:g}s: pids {[r['pid'] for r in rows][:10]}"
    else:
        message = f"no statement running longer than {limit_s:g}s"
    return measured(
        check,
        target,
        len(rows),
        threshold,
        message,
        {"limit_s": limit_s, "sessions": _sessions(rows)},
    )


def connections(check: str, target: str, rows: Sequence[Row], threshold: Threshold) -> Finding:
    """Client sessions as a percentage of ``max_connections`` (as check_postgres ``backends``)."""
    maximum = int(rows[0]["max_connections"]) if rows else 0
    groups = [r for r in rows if r.get("database") is not None]
    used = sum(int(r["sessions"]) for r in groups)
    percent = round(100.0 * used / maximum, 1) if maximum else None
    by_db: dict[str, int] = {}
    for r in groups:
        by_db[r["database"]] = by_db.get(r["database"], 0) + int(r["sessions"])
    top = sorted(groups, key=lambda r: -int(r["sessions"]))[:MAX_LISTED]
    return measured(
        check,
        target,
        percent,
        threshold,
        f"{used} of max_connections={maximum} in use ({percent}%)",
        {
            "used": used,
            "max_connections": maximum,
            "reserved": int(rows[0]["reserved"]) if rows else None,
            "by_database": by_db,
            "groups": [_clean(r) for r in top],
        },
    )


def txid_wraparound(check: str, target: str, rows: Sequence[Row], threshold: Threshold) -> Finding:
    worst = max(rows, key=lambda r: int(r["xid_age"]), default=None)
    age = int(worst["xid_age"]) if worst else None
    message = (
        f"oldest unfrozen transaction ID age {age:,} in database {worst['database']!r} (wraparound at ~2,147,483,647)"
        if worst and age is not None
        else "no database visible"
    )
    return measured(
        check,
        target,
        age,
        threshold,
        message,
        {"databases": [_clean(r) for r in rows[:MAX_LISTED]]},
    )


def sequence_used_percent(row: Row) -> float | None:
    """How much of its range a sequence has used, capped by the type of the column it feeds.

    >>> sequence_used_percent({"last_value": 2**30, "min_value": 1, "max_value": 2**63 - 1,
    ...     "increment_by": 1, "cycle": False, "column_type": "integer"})
    50.0
    >>> sequence_used_percent({"last_value": None, "min_value": 1, "max_value": 100,
    ...     "increment_by": 1, "cycle": False, "column_type": None})
    0.0
    """
    if row.get("cycle"):
        return None  # a cycling sequence wraps on purpose
    low, high = int(row["min_value"]), int(row["max_value"])
    column = row.get("column_type")
    if column in _TYPE_MAX:
        high, low = min(high, _TYPE_MAX[column]), max(low, _TYPE_MIN[column])
    if row.get("last_value") is None:
        return 0.0
    last = int(row["last_value"])
    span = high - low
    if span <= 0:
        return 100.0
    used = (last - low) if int(row["increment_by"]) > 0 else (high - last)
    return round(100.0 * used / span, 2)


def sequence_exhaustion(check: str, target: str, rows: Sequence[Row], threshold: Threshold) -> Finding:
    scored = []
    for r in rows:
        used = sequence_used_percent(r)
        if used is not None:
            scored.append({**_clean(r), "used_percent": used})
    scored.sort(key=lambda r: -float(r["used_percent"]))
    worst = scored[0] if scored else None
    if worst:
        feeds = (
            f" (feeds {worst['table_name']}.{worst['column_name']} {worst['column_type']})"
            if worst.get("table_name")
            else ""
        )
        message = (
            f"sequence {worst['schema']}.{worst['sequence']} has used {worst['used_percent']}% of its range{feeds}"
        )
    else:
        message = "no non-cycling sequences"
    return measured(
        check,
        target,
        worst["used_percent"] if worst else 0.0,
        threshold,
        message,
        {"sequences": scored[:MAX_LISTED], "count": len(scored)},
    )


def replication(check: str, target: str, rows: Sequence[Row], threshold: Threshold) -> Finding:
    """Worst WAL distance (bytes) of a slot's restart point or a replica's replay position."""
    if not rows:
        return Finding(
            check,
            target,
            Severity.OK,
            "no replication slots or replicas",
            value=0,
            details={"slots": [], "replicas": []},
        )
    lags = [float(r["lag_bytes"]) for r in rows if r.get("lag_bytes") is not None]
    worst = max(lags, default=0.0)
    inactive = [r["name"] for r in rows if r["kind"] == "slot" and not r["active"]]
    lost = [r["name"] for r in rows if r["kind"] == "slot" and r.get("status") == "lost"]
    finding = measured(
        check,
        target,
        worst,
        threshold,
        f"{len(rows)} slot(s)/replica(s); worst WAL lag {worst / 2**20:.1f} MiB; inactive slots {inactive}",
        {
            "slots": [_clean(r) for r in rows if r["kind"] == "slot"],
            "replicas": [_clean(r) for r in rows if r["kind"] == "replica"],
            "inactive_slots": inactive,
            "lost_slots": lost,
        },
    )
    if lost:
        finding.severity = Severity.CRITICAL
        finding.message = f"replication slot(s) {lost} lost required WAL; " + finding.message
    return finding


def dead_tuples(check: str, target: str, rows: Sequence[Row], threshold: Threshold, min_dead: int) -> Finding:
    """Worst dead-tuple ratio among tables with at least ``min_dead`` dead tuples."""
    eligible = [r for r in rows if int(r["dead_tuples"] or 0) >= min_dead and r.get("dead_percent") is not None]
    eligible.sort(key=lambda r: -float(r["dead_percent"]))
    worst = eligible[0] if eligible else None
    above = (
        [r for r in eligible if float(r["dead_percent"]) > threshold.warning]
        if threshold.direction == "above"
        else eligible
    )
    value = round(float(worst["dead_percent"]), 2) if worst else 0.0
    if worst:
        message = (
            f"{len(above)} table(s) above {threshold.warning:g}% dead tuples; worst "
            f"{worst['schema']}.{worst['table_name']} {value}% ({worst['dead_tuples']} dead)"
        )
    else:
        message = f"no table has {min_dead} or more dead tuples"
    return measured(
        check,
        target,
        value,
        threshold,
        message,
        {
            "tables": [_clean(r) for r in (above or eligible)[:MAX_LISTED]],
            "top_by_dead_tuples": [_clean(r) for r in rows[:10]],
            "min_dead_tuples": min_dead,
        },
    )


def slow_queries(check: str, target: str, rows: Sequence[Row] | None, threshold: Threshold) -> Finding:
    """``rows is None``: pg_stat_statements is absent (an ``unknown`` finding saying how to enable it)."""
    if rows is None:
        return Finding(
            check,
            target,
            Severity.UNKNOWN,
            SLOW_QUERIES_HOWTO,
            details={"extension": "pg_stat_statements", "installed": False},
        )
    listed = []
    for r in rows:
        item = _clean(r, ("query",))
        item["query"] = redact(r.get("query"))
        listed.append(item)
    worst = listed[0] if listed else None
    value = round(float(worst["mean_ms"]), 2) if worst else 0.0
    message = (
        f"slowest statement by mean time: {value} ms over {worst['calls']} calls (queryid {worst['queryid']})"
        if worst
        else "no statements recorded yet"
    )
    return measured(check, target, value, threshold, message, {"queries": listed})


def cache_hit_ratio(check: str, target: str, rows: Sequence[Row], threshold: Threshold) -> Finding:
    db = next((r for r in rows if r.get("table_name") is None), None)
    hits, reads = (float(db["hits"]), float(db["reads"])) if db else (0.0, 0.0)
    ratio = round(100.0 * hits / (hits + reads), 2) if hits + reads else None
    tables = [
        {**_clean(r), "hit_percent": round(100.0 * float(r["hits"]) / (float(r["hits"]) + float(r["reads"])), 2)}
        for r in rows
        if r.get("table_name") is not None
    ]
    if ratio is None:
        return Finding(
            check, target, Severity.OK, "no block reads recorded yet", details={"tables": tables}
        )
    return measured(
        check,
        target,
        ratio,
        threshold,
        f"buffer cache hit ratio {ratio}% ({int(hits)} hits, {int(reads)} reads)",
        {"tables_most_read_from_disk": tables},
    )


def unused_indexes(check: str, target: str, rows: Sequence[Row], threshold: Threshold) -> Finding:
    names = _names(rows, "schema", "index_name")
    wasted = sum(int(r["size_bytes"]) for r in rows)
    message = (
        f"{len(rows)} index(es) never scanned, {wasted / 2**20:.1f} MiB: {names[:10]}"
        if rows
        else "every index has been used"
    )
    return measured(
        check,
        target,
        len(rows),
        threshold,
        message,
        {"indexes": [_clean(r) for r in rows[:MAX_LISTED]], "total_bytes": wasted},
    )


def invalid_indexes(check: str, target: str, rows: Sequence[Row], threshold: Threshold) -> Finding:
    names = _names(rows, "schema", "index_name")
    message = (
        f"{len(rows)} invalid index(es) (failed CREATE INDEX/REINDEX CONCURRENTLY; drop or rebuild): {names[:10]}"
        if rows
        else "no invalid indexes"
    )
    return measured(
        check,
        target,
        len(rows),
        threshold,
        message,
        {"indexes": [_clean(r) for r in rows[:MAX_LISTED]]},
    )


def bloat(check: str, target: str, rows: Sequence[Row], threshold: Threshold) -> Finding:
    estimated = [r for r in rows if r.get("bloat_percent") is not None]
    estimated.sort(key=lambda r: -float(r["bloat_percent"]))
    worst = estimated[0] if estimated else None
    above = (
        [r for r in estimated if float(r["bloat_percent"]) > threshold.warning]
        if threshold.direction == "above"
        else []
    )
    value = float(worst["bloat_percent"]) if worst else 0.0
    message = (
        f"{len(above)} relation(s) above {threshold.warning:g}% estimated bloat; worst {worst['kind']} "
        f"{worst['schema']}.{worst['name']} {value}% ({int(worst['wasted_bytes']) / 2**20:.1f} MiB)"
        if worst
        else "no relation large enough to estimate"
    )
    return measured(
        check,
        target,
        value,
        threshold,
        message,
        {
            "relations": [_clean(r) for r in (above or estimated)[:MAX_LISTED]],
            "not_estimated": _names([r for r in rows if r.get("bloat_percent") is None], "schema", "name")[:MAX_LISTED],
        },
    )


def role_flags(row: Row) -> list[str]:
    """Why a role deserves review.

    >>> role_flags({"role": "a", "superuser": True, "can_login": True, "valid_until": None,
    ...             "connected_now": False, "owns_grants_or_members": True})
    ['superuser', 'login_without_password_expiry']
    """
    flags = []
    if row["superuser"]:
        flags.append("superuser")
    no_expiry = row.get("valid_until") is None or (
        isinstance(row["valid_until"], datetime) and row["valid_until"].year >= 9999
    )
    if row["can_login"] and no_expiry:
        flags.append("login_without_password_expiry")
    if row["can_login"] and not row["connected_now"] and not row["owns_grants_or_members"] and not row["superuser"]:
        flags.append("possibly_unused")
    return flags


def role_audit(check: str, target: str, rows: Sequence[Row], threshold: Threshold, allow: Sequence[str]) -> Finding:
    """Value: roles with a flag, not counting the allow-listed ones (still listed)."""
    reviewed = []
    for r in rows:
        flags = role_flags(r)
        if flags:
            reviewed.append({**_clean(r), "flags": flags, "allowed": r["role"] in allow})
    counted = [r for r in reviewed if not r["allowed"]]
    supers = [r["role"] for r in reviewed if "superuser" in r["flags"]]
    message = (
        f"{len(counted)} role(s) to review: {[(r['role'], r['flags']) for r in counted][:10]}; superusers {supers}"
        if counted
        else f"no role to review (superusers {supers}, allow-listed {sorted(allow)})"
    )
    return measured(
        check,
        target,
        len(counted),
        threshold,
        message,
        {"roles": reviewed[:MAX_LISTED], "superusers": supers, "login_roles": sum(1 for r in rows if r["can_login"])},
    )


def checksum_failures(check: str, target: str, rows: Sequence[Row], threshold: Threshold) -> Finding:
    """Checksum failures per database; with data checksums off nothing can be seen, and it says so.

    >>> from mercenary_maintenance.findings import Threshold
    >>> name = "postgres.checksum_failures"
    >>> f = checksum_failures(name, "main", [{"database": "app", "failures": 2, "last_failure": "2026-12-01",
    ...                                       "checksums_enabled": True}], Threshold(0, 0))
    >>> f.severity.label, f.message
    ('critical', '2 data-page checksum failure(s) (corruption read from disk) in app; last 2026-12-01')
    >>> checksum_failures(name, "main", [{"database": "app", "failures": 0, "last_failure": None,
    ...                                   "checksums_enabled": False}], Threshold(0, 0)).message
    'data checksums are off: page corruption is not detected (initdb --data-checksums, or pg_checksums --enable)'
    """
    failing = [r for r in rows if int(r["failures"] or 0) > 0]
    total = sum(int(r["failures"] or 0) for r in rows)
    enabled = any(bool(r.get("checksums_enabled")) for r in rows)
    if failing:
        last = max(str(r["last_failure"]) for r in failing if r.get("last_failure")) if any(
            r.get("last_failure") for r in failing) else "unknown"
        message = (f"{total} data-page checksum failure(s) (corruption read from disk) in "
                   f"{', '.join(str(r['database']) for r in failing[:10])}; last {last}")
    elif not enabled:
        message = ("data checksums are off: page corruption is not detected (initdb --data-checksums, or "
                   "pg_checksums --enable)")
    else:
        message = "no data-page checksum failures"
    return measured(check, target, total, threshold, message,
                    {"checksums_enabled": enabled, "databases": [_clean(r) for r in failing[:MAX_LISTED]]})
