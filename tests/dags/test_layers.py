"""The package's layers (docs/architecture.md): DAG files → task declarations (``<area>/tasks.py``,
``dagkit``, ``registry``) → area bodies → core (config, findings, steps, report, adapters, …).

No area imports another area and no core module imports an area. An area's declarations
(``<area>/tasks.py``, unit ``<area>.tasks``) may import their own area's bodies and the wiring
(``dagkit``, ``registry``), which reaches the other areas for them — never another area directly.
Nothing below the declarations imports the wiring or a declaration. The graph has no cycle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "mercenary_maintenance"
AREAS = {"postgres", "redis", "backups", "alerts", "health", "logs", "emergency", "reviews", "security", "preview",
         "approvals", "console"}
# Above the areas: they wire areas together, or wire the package into Airflow (setup step, scheduler listener).
WIRING = {"dagkit", "callbacks", "registry", "service_probes", "setup", "pool_guard", "doctor"}
def _unit(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    if len(parts) == 2 and parts[0] in AREAS and parts[1] == "tasks.py":
        return f"{parts[0]}.tasks"  # the area's task declarations: a layer above its bodies
    return parts[0].removesuffix(".py")


def _area(unit: str) -> str:
    return unit.removesuffix(".tasks")


def import_graph() -> dict[str, set[str]]:
    """unit → the other units it imports (module level and inside functions; not type-only)."""
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if "include" in path.relative_to(PACKAGE).parts:
            continue
        source = _unit(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # Imports for type checking only (``if TYPE_CHECKING:``) do not run: not an edge.
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                       for stmt in block.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module:
                names = ([f"{node.module}.{a.name}" for a in node.names] if node.module == "mercenary_maintenance"
                         else [node.module])
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if len(parts) < 2 or parts[0] != "mercenary_maintenance":
                    continue
                target = f"{parts[1]}.tasks" if parts[1] in AREAS and parts[2:3] == ["tasks"] else parts[1]
                if target != source:
                    edges.setdefault(source, set()).add(target)
    return edges


def _crossings() -> set[tuple[str, str]]:
    """(unit, imported unit) pairs that break the layering."""
    bad = set()
    for src, targets in import_graph().items():
        if src in WIRING:
            continue
        for dst in targets:
            if _area(dst) in AREAS and _area(dst) != _area(src):
                bad.add((src, dst))  # an area (or core) importing another area
            elif not src.endswith(".tasks") and (dst in WIRING or dst.endswith(".tasks")):
                bad.add((src, dst))  # a body or core module importing the wiring or a declaration
    return bad


def test_no_area_or_core_module_imports_an_area() -> None:
    assert _crossings() == set(), "a cross-layer import: move the shared code below the areas, or let the " \
                                  "declarations hand it over through the registry"


def test_the_checker_flags_what_it_should(monkeypatch: pytest.MonkeyPatch) -> None:
    real = import_graph()
    fake = {**real, "backups": {*real["backups"], "postgres"}, "health.tasks": {*real["health.tasks"], "security"},
            "report": {*real["report"], "alerts"}, "logs": {*real["logs"], "dagkit"}}
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: fake)
    assert _crossings() == {("backups", "postgres"), ("health.tasks", "security"), ("report", "alerts"),
                            ("logs", "dagkit")}


def test_the_graph_has_no_cycle() -> None:
    graph = import_graph()
    on_stack: list[str] = []
    done: set[str] = set()

    def visit(unit: str) -> None:
        if unit in on_stack:
            raise AssertionError(f"import cycle: {' → '.join([*on_stack[on_stack.index(unit):], unit])}")
        if unit in done:
            return
        on_stack.append(unit)
        for nxt in sorted(graph.get(unit, ())):
            visit(nxt)
        on_stack.pop()
        done.add(unit)

    for unit in sorted(graph):
        visit(unit)


def test_the_checker_sees_an_import_inside_a_function() -> None:
    # dagkit imports the report writer only inside write_report (when the task runs): the graph must still see it.
    dagkit = ast.parse((PACKAGE / "dagkit.py").read_text(encoding="utf-8"))
    module_level = {node.module for node in dagkit.body if isinstance(node, ast.ImportFrom)}
    assert not any(str(m).startswith("mercenary_maintenance.report") for m in module_level)
    assert "report" in import_graph()["dagkit"]


def test_declarations_are_a_unit_of_their_own() -> None:
    # emergency/tasks.py takes the registry (wiring); the registry imports area bodies, not declarations.
    graph = import_graph()
    assert "registry" in graph["emergency.tasks"]
    assert "emergency.tasks" not in graph["registry"]
    assert "dagkit" in graph["postgres.tasks"]
