"""Trend charts as inline SVG (pygal, rendered on the server; no script, no CDN, no network)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mercenary_maintenance.console.index import RunIndex
from mercenary_maintenance.windows.rules import UTC

TOP_TABLES = 5
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)


@dataclass(frozen=True)
class ChartSpec:
    series: str
    title: str
    unit: str
    scale: float = 1.0
    top: int | None = None  # keep the labels with the largest latest value


CHARTS = (
    ChartSpec("dead_tuples", "Dead tuples, top tables", "dead tuples", top=TOP_TABLES),
    ChartSpec("backup_size_bytes", "Full backup size", "MB", scale=1 / 2**20),
    ChartSpec("backup_duration_s", "Full backup duration", "s"),
    ChartSpec("restore_duration_s", "Restore test: restore_seconds (RTO)", "s"),
    ChartSpec("restore_phase_s", "Restore test phases", "s"),
    ChartSpec("redis_used_memory_bytes", "Redis used memory", "MB", scale=1 / 2**20),
    ChartSpec("redis_fragmentation_ratio", "Redis fragmentation ratio", "ratio"),
    ChartSpec("disk_percent", "Disk usage per path", "%"),
)


def lines(points: list[dict[str, Any]], spec: ChartSpec) -> dict[str, list[tuple[datetime, float]]]:
    """One line per ``target label`` (per label alone when the label is the target)."""
    out: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for p in points:
        name = p["label"] if p["label"] == p["target"] else f"{p['target']} {p['label']}"
        out[name].append((datetime.fromtimestamp(p["ts"], UTC), p["value"] * spec.scale))
    if spec.top is not None and len(out) > spec.top:
        keep = sorted(out, key=lambda n: out[n][-1][1], reverse=True)[: spec.top]
        out = defaultdict(list, {n: out[n] for n in keep})
    return dict(sorted(out.items()))


def render_svg(spec: ChartSpec, data: dict[str, list[tuple[datetime, float]]]) -> str:
    import pygal
    from pygal.style import CleanStyle

    chart = pygal.DateTimeLine(
        width=720, height=300, title=f"{spec.title} ({spec.unit})", style=CleanStyle, js=[],
        disable_xml_declaration=True, x_label_rotation=25, show_dots=True, dots_size=2,
        legend_at_bottom=True, truncate_legend=40, no_data_text="no data in this period",
        x_value_formatter=lambda d: d.strftime("%Y-%m-%d"), explicit_size=True,
    )
    for name, values in data.items():
        chart.add(name, values)
    # pygal always embeds its (inert without pygal.js) config script; the page carries no script at all.
    return _SCRIPT.sub("", str(chart.render(is_unicode=True)))


def trend_charts(index: RunIndex, since: datetime) -> list[dict[str, Any]]:
    out = []
    for spec in CHARTS:
        data = lines(index.points(spec.series, since.timestamp()), spec)
        out.append({"series": spec.series, "title": spec.title, "svg": render_svg(spec, data),
                    "count": sum(len(v) for v in data.values())})
    return out
