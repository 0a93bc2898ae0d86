"""Pure review logic: growth between snapshots, trends from past reports, access changes,
and the markdown/Slack text. No I/O here, so everything is unit-tested directly.

A snapshot is ``{"taken_at": iso, "postgres": {target: {...}}, "redis": {target: {...}},
"backups": {...}}`` as produced by ``measure``; the previous snapshot is the last review
of the same DAG.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mercenary_maintenance.findings import Finding, Severity

ROLE_FLAGS = ("superuser", "createrole", "createdb", "login", "replication", "bypassrls", "valid_until", "member_of")


def human_bytes(n: float | None) -> str:
    """
    >>> human_bytes(0), human_bytes(1536), human_bytes(5 * 2**30)
    ('0 B', '1.5 KiB', '5.0 GiB')
    """
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def growth(before: float | None, now: float | None) -> str:
    """
    >>> growth(100, 150), growth(None, 10), growth(0, 10), growth(200, 100)
    ('+50 B (+50.0%)', 'new', '+10 B', '-100 B (-50.0%)')
    """
    if now is None:
        return "gone"
    if before is None:
        return "new"
    delta = now - before
    sign = "+" if delta >= 0 else "-"
    text = f"{sign}{human_bytes(abs(delta))}"
    return f"{text} ({delta / before * 100:+.1f}%)" if before else text


def size_table(title: str, now: dict[str, int], before: dict[str, int] | None) -> list[str]:
    lines = [f"**{title}**", "", "| name | size | since last review |", "|---|---|---|"]
    for name, size in sorted(now.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {human_bytes(size)} | {growth((before or {}).get(name), size) if before else '—'} |")
    return lines


@dataclass
class AccessChanges:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # "role: attr a → b"
    granted: list[str] = field(default_factory=list)  # "role: PRIV on x"
    revoked: list[str] = field(default_factory=list)

    def count(self) -> int:
        return len(self.added) + len(self.removed) + len(self.changed) + len(self.granted) + len(self.revoked)

    def lines(self) -> list[str]:
        out = [f"- role added: `{r}`" for r in self.added]
        out += [f"- role removed: `{r}`" for r in self.removed]
        out += [f"- changed: {c}" for c in self.changed]
        out += [f"- granted: {g}" for g in self.granted]
        out += [f"- revoked: {r}" for r in self.revoked]
        return out


def access_changes(before: dict[str, Any] | None, now: dict[str, Any]) -> AccessChanges | None:
    """Differences in roles, attributes, memberships and grants; ``None`` without a baseline.

    >>> a = {"roles": {"app": {"login": True, "member_of": []}}, "grants": {"app": ["SELECT on public.t"]}}
    >>> b = {"roles": {"app": {"login": True, "member_of": ["admin"]}, "eve": {"login": True}},
    ...      "grants": {"app": ["SELECT on public.t", "DELETE on public.t"]}}
    >>> c = access_changes(a, b)
    >>> c.added, c.changed, c.granted
    (['eve'], ["app: member_of [] → ['admin']"], ['app: DELETE on public.t'])
    """
    if before is None:
        return None
    old_roles, new_roles = before.get("roles", {}), now.get("roles", {})
    result = AccessChanges(added=sorted(set(new_roles) - set(old_roles)),
                           removed=sorted(set(old_roles) - set(new_roles)))
    for role in sorted(set(old_roles) & set(new_roles)):
        for flag in ROLE_FLAGS:
            if old_roles[role].get(flag) != new_roles[role].get(flag):
                result.changed.append(f"{role}: {flag} {old_roles[role].get(flag)} → {new_roles[role].get(flag)}")
    old_grants, new_grants = before.get("grants", {}), now.get("grants", {})
    for role in sorted(set(old_grants) | set(new_grants)):
        old, new = set(old_grants.get(role, [])), set(new_grants.get(role, []))
        result.granted += [f"{role}: {p}" for p in sorted(new - old)]
        result.revoked += [f"{role}: {p}" for p in sorted(old - new)]
    return result


def access_finding(target: str, changes: AccessChanges | None, roles: dict[str, Any]) -> Finding:
    """``reviews.access_changes``: warning when access changed since the last review (someone
    must confirm it was intended), ok otherwise; the first review records the baseline."""
    supers = sorted(r for r, attrs in roles.items() if attrs.get("superuser"))
    details = {"roles": len(roles), "superusers": supers}
    if changes is None:
        return Finding("reviews.access_changes", target, Severity.OK,
                       f"baseline recorded: {len(roles)} roles ({len(supers)} superusers)", details=details)
    details["changes"] = changes.lines()
    if changes.count():
        return Finding("reviews.access_changes", target, Severity.WARNING, value=changes.count(), threshold=0,
                       message=f"{changes.count()} access changes since the last review: confirm each was approved",
                       details=details)
    return Finding("reviews.access_changes", target, Severity.OK, value=0, threshold=0,
                   message="no access changes since the last review", details=details)


def role_table(roles: dict[str, Any], grants: dict[str, list[str]]) -> list[str]:
    lines = ["| role | login | superuser | createrole | createdb | replication | member of | explicit grants |",
             "|---|---|---|---|---|---|---|---|"]
    for name, attrs in sorted(roles.items()):
        flags = " | ".join("yes" if attrs.get(k) else "" for k in ("login", "superuser", "createrole", "createdb",
                                                                  "replication"))
        member_of = ", ".join(attrs.get("member_of") or [])
        lines.append(f"| {name} | {flags} | {member_of} | {len(grants.get(name, []))} |")
    return lines


def slow_query_lines(slow: dict[str, Any]) -> list[str]:
    if not slow.get("available"):
        return [f"Slow-query list unavailable: {slow.get('why')}."]
    if not slow.get("top"):
        return ["No statements recorded by pg_stat_statements yet."]
    lines = ["| mean (ms) | calls | total (ms) | statement |", "|---|---|---|---|"]
    for row in slow["top"]:
        query = str(row["query"]).replace("|", "\\|")
        lines.append(f"| {row['mean_ms']} | {row['calls']} | {row['total_ms']} | `{query}` |")
    return lines


def trend_rows(reports: list[dict[str, Any]], checks: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per (check, target): samples, first/last/max value and the non-ok count over past reports
    (oldest first) — the trend the scheduled checks have seen since the last review."""
    series: dict[tuple[str, str], list[tuple[Any, str]]] = {}
    for report in reports:
        for f in report.get("findings", []):
            if f["check"] in checks:
                series.setdefault((f["check"], f["target"]), []).append((f.get("value"), f["severity"]))
    rows = []
    for (check, target), samples in sorted(series.items()):
        values = [v for v, _ in samples if isinstance(v, (int, float)) and not isinstance(v, bool)]
        rows.append({"check": check, "target": target, "samples": len(samples),
                     "first": values[0] if values else None, "last": values[-1] if values else None,
                     "max": max(values) if values else None,
                     "not_ok": sum(1 for _, s in samples if s != "ok")})
    return rows


def trend_lines(rows: list[dict[str, Any]], days: int) -> list[str]:
    if not rows:
        return [f"No scheduled-check history in the last {days} days."]
    lines = [f"From the reports of the last {days} days:", "",
             "| check | target | samples | first | last | max | not ok |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['check']} | {r['target']} | {r['samples']} | {_num(r['first'])} | {_num(r['last'])} "
                     f"| {_num(r['max'])} | {r['not_ok']} |")
    return lines


def _num(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:.4g}" if isinstance(v, float) else str(v)
