"""The package's layers (docs/architecture.md): DAG files → task declarations (``<area>/tasks.py``,
``dagkit``, ``registry``) → area bodies → core (config, findings, steps, report, adapters, …).

No area imports another area and no core module imports an area. An area's declarations
(``<area>/tasks.py``, unit ``<area>.tasks``) may import their own area's bodies and the wiring
(``dagkit``, ``registry``), which reaches the other areas for them — never another area directly.
``KNOWN`` lists the edges that still break this, the debt this test ratchets: a new edge fails,
and a listed edge that disappears must be struck from the list. The graph without them has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "mercenary_maintenance"
AREAS = {"postgres", "redis", "backups", "alerts", "health", "logs", "emergency", "reviews", "security", "preview",
         "approvals", "console"}
# Above the areas: they wire areas together (or are the dev harness).
WIRING = {"dagkit", "callbacks", "registry", "setup"}
# (importing unit, imported area): known cross-layer imports, to be removed (issue 19's follow-up).
KNOWN = {
    ("backups", "postgres"),     # PostgreSQL sessions and the per-target lock live in the postgres area
    ("security", "postgres"),    # credential age reads roles through a postgres session
    ("security", "health"),      # the firewall review reuses the closed-port probe
    ("logs", "health"),          # disk usage before/after archival (health.host)
    ("health", "security"),      # the monthly security group also adds the security area's tasks
    ("postgres", "approvals"),   # task declarations put the approval gate before VACUUM FULL
    ("backups", "approvals"),    # … and before backup expiry
    ("emergency", "approvals"),  # … and before a non-critical emergency action
}


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


def test_no_area_or_core_module_imports_an_area_beyond_the_known_debt() -> None:
    crossing = {(_area(src), _area(dst)) for src, targets in import_graph().items() if src not in WIRING
                for dst in targets if _area(dst) in AREAS and _area(dst) != _area(src)}
    assert crossing - KNOWN == set(), "a new cross-layer import: move the shared code below the areas"
    assert KNOWN - crossing == set(), "a known edge is gone: strike it from KNOWN"


def test_the_graph_without_the_known_edges_has_no_cycle() -> None:
    graph = {src: {dst for dst in targets if (_area(src), _area(dst)) not in KNOWN}
             for src, targets in import_graph().items()}
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
