"""Compose a review (pure): the report section's markdown, its findings and the Slack summary,
from the live snapshot, the previous review's snapshot and the trend rows of past reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mercenary_maintenance.findings import Finding
from mercenary_maintenance.reviews.analysis import (
    access_changes,
    access_finding,
    growth,
    human_bytes,
    role_table,
    size_table,
    slow_query_lines,
    trend_lines,
)

TITLES = {"monthly": "Monthly performance review", "quarterly": "Quarterly capacity and access review"}
# Scheduled checks whose history the review summarises (names from docs/report.md).
TREND_CHECKS = ("postgres.connections", "postgres.cache_hit_ratio", "postgres.dead_tuples", "postgres.slow_queries",
                "redis.memory", "redis.hit_ratio", "host.disk_usage", "host.inode_usage", "backup.freshness",
                "app.error_rate", "app.latency_p95")


@dataclass
class Review:
    title: str
    markdown: str
    summary: str
    findings: list[Finding] = field(default_factory=list)


def _since(previous: dict[str, Any] | None) -> str:
    return f"since the last review ({previous['taken_at']})" if previous else "first review: baseline recorded"


def _postgres(name: str, now: dict[str, Any], before: dict[str, Any] | None) -> tuple[list[str], Finding, str]:
    lines = [f"### PostgreSQL `{name}`", ""]
    lines += size_table("Database sizes", now["databases"], (before or {}).get("databases"))
    top = f"Largest tables (top {len(now['tables'])})"
    lines += ["", *size_table(top, now["tables"], (before or {}).get("tables"))]
    lines += ["", "**Slow queries (pg_stat_statements, by mean time)**", "", *slow_query_lines(now["slow_queries"])]
    changes = access_changes(before, now) if before and "roles" in before else None
    finding = access_finding(f"postgres:{name}", changes, now["roles"])
    lines += ["", "**Roles and privileges**", "", *role_table(now["roles"], now["grants"])]
    lines += ["", "Access changes since the last review:"]
    lines += (changes.lines() or ["- none"]) if changes is not None else ["- first review: baseline recorded"]
    total = sum(now["databases"].values())
    before_total = sum((before or {}).get("databases", {}).values()) if before else None
    summary = f"{name}: databases {human_bytes(total)} ({growth(before_total, total)})"
    if changes is not None and changes.count():
        summary += f", {changes.count()} access changes"
    return lines, finding, summary


def _redis(name: str, now: dict[str, Any], before: dict[str, Any] | None) -> tuple[list[str], str]:
    limit = human_bytes(now["maxmemory"]) if now["maxmemory"] else "no maxmemory"
    used = growth(before.get("used_memory") if before else None, now["used_memory"]) if before else "—"
    lines = [f"### Redis `{name}`", "",
             f"- used memory {human_bytes(now['used_memory'])} (peak {human_bytes(now['used_memory_peak'])}, "
             f"limit {limit}); since last review: {used}",
             f"- keys: {now['keys']}"]
    return lines, f"{name}: {human_bytes(now['used_memory'])} ({used})"


def compose(kind: str, snapshot: dict[str, Any], previous: dict[str, Any] | None,
            trends: list[dict[str, Any]], days: int) -> Review:
    title = TITLES[kind]
    lines = [f"Snapshot {snapshot['taken_at']}; compared {_since(previous)}.", ""]
    findings: list[Finding] = []
    summary: list[str] = []
    for name, now in sorted(snapshot.get("postgres", {}).items()):
        part, finding, line = _postgres(name, now, (previous or {}).get("postgres", {}).get(name))
        lines += [*part, ""]
        findings.append(finding)
        summary.append(line)
    for name, now in sorted(snapshot.get("redis", {}).items()):
        part, line = _redis(name, now, (previous or {}).get("redis", {}).get(name))
        lines += [*part, ""]
        summary.append(line)
    if snapshot.get("backups"):
        now_b, before_b = snapshot["backups"], (previous or {}).get("backups")
        change = growth(before_b["bytes"], now_b["bytes"]) if before_b else "—"
        lines += ["### Backup storage", "",
                  f"- {now_b['location']}: {human_bytes(now_b['bytes'])} in {now_b['objects']} objects; "
                  f"since last review: {change}", ""]
        summary.append(f"backups {human_bytes(now_b['bytes'])} ({change})")
    lines += ["### Trends from the scheduled checks", "", *trend_lines(trends, days)]
    missing = snapshot.get("unavailable") or []
    if missing:
        lines += ["", "### Not measured", "", *[f"- {m}" for m in missing]]
    text = f"*{title}*: " + "; ".join(summary) if summary else f"*{title}*: nothing measured"
    return Review(title=title, markdown="\n".join(lines).rstrip(), summary=text, findings=findings)
