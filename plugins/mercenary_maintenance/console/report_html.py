"""A run's report as HTML fragments (the tab on Airflow's DAG-run page shows it)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from mercenary_maintenance.findings import Severity


def markdown_html(text: str) -> Markup:
    """Report sections are markdown; raw HTML in them is escaped, never passed through."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    return Markup(md.render(text))


def sorted_findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    def rank(f: dict[str, Any]) -> int:
        try:
            return -int(Severity.parse(str(f.get("severity"))))
        except ValueError:
            return 0

    return sorted(report.get("findings", []), key=rank)
