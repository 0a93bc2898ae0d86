"""The package's layers (docs/architecture.md): DAG files → task declarations (``<area>/tasks.py``)
and the Airflow wiring (``wiring/``: ``dagkit``, ``registry``, …) → area bodies → core (config,
findings, steps, report, adapters, …).

No area imports another area and no core module imports an area. An area's declarations
(``<area>/tasks.py``, unit ``<area>.tasks``) may import their own area's bodies and the wiring
(``wiring.dagkit``, ``wiring.registry``), which reaches the other areas for them — never another area directly.
Nothing below the declarations imports the wiring or a declaration. The graph has no cycle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "mercenary_maintenance"
AREAS = {"postgres", "redis", "backups", "alerts", "health", "logs", "emergency", "reviews", "security", "preview",
         "approvals", "console", "airflow_db"}
# Above the areas: the Airflow wiring (``wiring/``: the DAG and task factories, the registry that
# wires areas together, the callbacks, the setup step, the scheduler listener), one unit per module,
# and the doctor (an entry point that probes every area's configuration).
WIRING_PACKAGE = "wiring"
WIRING = {WIRING_PACKAGE, "doctor"}
WIRING_MODULES = {p.stem for p in (PACKAGE / WIRING_PACKAGE).glob("*.py") if p.stem != "__init__"}


def _is_wiring(unit: str) -> bool:
    return unit.split(".")[0] in WIRING


def _unit(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    if len(parts) == 2 and parts[0] in AREAS and parts[1] == "tasks.py":
        return f"{parts[0]}.tasks"  # the area's task declarations: a layer above its bodies
    if len(parts) == 2 and parts[0] == WIRING_PACKAGE and parts[1] != "__init__.py":
        return f"{WIRING_PACKAGE}.{parts[1].removesuffix('.py')}"  # each wiring module a unit of its own
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
                names = ([f"{node.module}.{a.name}" for a in node.names]
                         if node.module in ("mercenary_maintenance", f"mercenary_maintenance.{WIRING_PACKAGE}")
                         else [node.module])
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if len(parts) < 2 or parts[0] != "mercenary_maintenance":
                    continue
                if parts[1] in AREAS and parts[2:3] == ["tasks"]:
                    target = f"{parts[1]}.tasks"
                elif parts[1] == WIRING_PACKAGE and parts[2:3] and parts[2] in WIRING_MODULES:
                    target = f"{WIRING_PACKAGE}.{parts[2]}"
                else:
                    target = parts[1]
                if target != source:
                    edges.setdefault(source, set()).add(target)
    return edges


def _crossings() -> set[tuple[str, str]]:
    """(unit, imported unit) pairs that break the layering."""
    bad = set()
    for src, targets in import_graph().items():
        if _is_wiring(src):
            continue
        for dst in targets:
            if _area(dst) in AREAS and _area(dst) != _area(src):
                bad.add((src, dst))  # an area (or core) importing another area
            elif not src.endswith(".tasks") and (_is_wiring(dst) or dst.endswith(".tasks")):
                bad.add((src, dst))  # a body or core module importing the wiring or a declaration
    return bad


def test_no_area_or_core_module_imports_an_area() -> None:
    assert _crossings() == set(), "a cross-layer import: move the shared code below the areas, or let the " \
                                  "declarations hand it over through the registry"


def test_the_checker_flags_what_it_should(monkeypatch: pytest.MonkeyPatch) -> None:
    real = import_graph()
    fake = {**real, "backups": {*real["backups"], "postgres"}, "health.tasks": {*real["health.tasks"], "security"},
            "report": {*real["report"], "alerts"}, "logs": {*real["logs"], "wiring.dagkit"}}
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: fake)
    assert _crossings() == {("backups", "postgres"), ("health.tasks", "security"), ("report", "alerts"),
                            ("logs", "wiring.dagkit")}


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
    dagkit = ast.parse((PACKAGE / "wiring" / "dagkit.py").read_text(encoding="utf-8"))
    module_level = {node.module for node in dagkit.body if isinstance(node, ast.ImportFrom)}
    assert not any(str(m).startswith("mercenary_maintenance.report") for m in module_level)
    assert "report" in import_graph()["wiring.dagkit"]


def test_declarations_are_a_unit_of_their_own() -> None:
    # emergency/tasks.py takes the registry (wiring); the registry imports area bodies, not declarations.
    graph = import_graph()
    assert "wiring.registry" in graph["emergency.tasks"]
    assert "emergency.tasks" not in graph["wiring.registry"]
    assert "wiring.dagkit" in graph["postgres.tasks"]


# The Step is the only door (docs/architecture.md): the config file is read, and Airflow asked for
# the task's context, only where a Step (or a callback's notice door) is built and by the entry
# points; everything below gets them from the Step or as arguments.
CONFIG_READERS = {"config/__init__.py", "steps.py", "wiring/dagkit.py", "wiring/callbacks.py", "approvals/operator.py",
                  "report/__main__.py", "doctor/__main__.py", "console/app.py"}
CONTEXT_READERS = {"steps.py", "wiring/dagkit.py"}


def uses(name: str, root: Path = PACKAGE) -> set[str]:
    """Package files (relative paths) that import or call ``name`` (an import, ``x.name``, ``name(...)``)."""
    found = set()
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("include/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if ((isinstance(node, ast.ImportFrom) and any(a.name == name for a in node.names))
                    or (isinstance(node, ast.Attribute) and node.attr == name)
                    or (isinstance(node, ast.Name) and node.id == name)):
                found.add(rel)
    return found


def test_only_the_doors_read_the_config_file() -> None:
    assert uses("load_config") - CONFIG_READERS == set(), "read the config from step.cfg (or take it as an argument)"


def test_no_body_asks_airflow_for_the_context() -> None:
    assert uses("get_current_context") - CONTEXT_READERS == set(), \
        "take the run's facts from step.run / step.ti (execute_step builds them from the context)"


def test_the_door_checker_sees_a_reader(tmp_path: Path) -> None:
    (tmp_path / "area").mkdir()
    (tmp_path / "area" / "body.py").write_text(
        "def body(step):\n    from mercenary_maintenance import config\n    return config.load_config()\n")
    (tmp_path / "area" / "other.py").write_text(
        "from airflow.sdk import get_current_context\n\ndef body(step):\n    return get_current_context()\n")
    (tmp_path / "area" / "clean.py").write_text("def body(step):\n    return step.cfg.timeouts\n")
    assert uses("load_config", tmp_path) == {"area/body.py"}
    assert uses("get_current_context", tmp_path) == {"area/other.py"}


def module_graph() -> dict[str, set[str]]:
    """module → the package's modules it imports, per module (not per package) and type-only
    imports (``if TYPE_CHECKING:``) included: a cycle there is still two modules that need each other."""
    modules = {p.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
               for p in PACKAGE.rglob("*.py") if "include" not in p.relative_to(PACKAGE).parts}
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if "include" in path.relative_to(PACKAGE).parts:
            continue
        source = path.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mercenary_maintenance"):
                base = node.module.removeprefix("mercenary_maintenance").lstrip(".")
                names = [f"{base}.{a.name}".lstrip(".") for a in node.names]
                targets = [n if n in modules else base for n in names]
            elif isinstance(node, ast.Import):
                targets = [a.name.removeprefix("mercenary_maintenance.") for a in node.names
                           if a.name.startswith("mercenary_maintenance.")]
            else:
                continue
            edges.setdefault(source, set()).update(t for t in targets if t and t != source and t in modules)
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    on_stack: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        if node in on_stack:
            found.append([*on_stack[on_stack.index(node):], node])
            return
        if node in done:
            return
        on_stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        on_stack.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)
    return found


def test_no_module_cycle_type_only_imports_included() -> None:
    assert cycles(module_graph()) == [], "two modules import each other: move what both need below them"


def test_the_module_checker_sees_a_type_only_cycle() -> None:
    graph = module_graph()
    assert "steps" in graph["backups.bodies"]
    assert "pg.lock" in graph["backups.lock"]
    assert cycles({**graph, "runinfo": {*graph.get("runinfo", set()), "skips"}}) != []


def front_door(area: str) -> set[str]:
    """The modules an area's ``__init__.py`` lists in ``__all__``."""
    tree = ast.parse((PACKAGE / area / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def back_door_imports() -> set[tuple[str, str]]:
    """(importing file, area.module) for every import of an area's module from outside the area
    (other areas never do: the wiring, the DAG files and the Airflow plugin) that its front door does not list."""
    files = [*PACKAGE.rglob("*.py"), *(PACKAGE.parents[1] / "dags").glob("*.py"), *PACKAGE.parent.glob("*.py")]
    bad = set()
    for path in files:
        rel = path.relative_to(PACKAGE).parts if PACKAGE in path.parents else ("",)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mercenary_maintenance."):
                parts = node.module.split(".")
                wanted = ([(parts[1], a.name) for a in node.names] if len(parts) == 2
                          else [(parts[1], parts[2])])
            elif isinstance(node, ast.Import):
                wanted = [(p[1], p[2]) for p in (a.name.split(".") for a in node.names)
                          if len(p) >= 3 and p[0] == "mercenary_maintenance"]
            else:
                continue
            for area, module in wanted:
                if area in AREAS and rel[0] != area and module not in front_door(area):
                    bad.add((path.name if rel == ("",) else "/".join(rel), f"{area}.{module}"))
    return bad


def test_other_layers_enter_an_area_by_its_front_door() -> None:
    assert back_door_imports() == set(), "import the area's front-door modules (its __init__'s __all__), or add one"


def test_every_area_has_a_front_door() -> None:
    for area in AREAS:
        assert front_door(area), f"{area}/__init__.py lists no __all__"
        assert all((PACKAGE / area / f"{m}.py").exists() for m in front_door(area)), area


def test_the_front_door_checker_sees_a_back_door(monkeypatch: pytest.MonkeyPatch) -> None:
    real = front_door
    monkeypatch.setattr(sys.modules[__name__], "front_door",
                        lambda area: real(area) - {"bodies"} if area == "postgres" else real(area))
    assert ("wiring/registry.py", "postgres.bodies") in back_door_imports()


# One Slack entry point (docs/architecture.md): ``delivery.to_slack`` masks the text, retries within
# the budget and is the only caller of the Slack adapter; the adapter is the only user of the hook.
SLACK_ENTRY = "delivery.py"


def slack_adapter_users(root: Path = PACKAGE) -> set[str]:
    """Package files (relative paths) that import the Slack adapter (``mercenary_maintenance.adapters.slack``)."""
    found = set()
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if ((isinstance(node, ast.ImportFrom) and node.module == "mercenary_maintenance.adapters"
                 and any(a.name == "slack" for a in node.names))
                    or (isinstance(node, ast.ImportFrom) and node.module == "mercenary_maintenance.adapters.slack")
                    or (isinstance(node, ast.Import)
                        and any(a.name == "mercenary_maintenance.adapters.slack" for a in node.names))):
                found.add(rel)
    return found


def test_one_slack_entry_point() -> None:
    assert slack_adapter_users() == {SLACK_ENTRY}, "post through delivery.to_slack (or delivery.post), not the adapter"
    assert uses("SlackWebhookHook") == {"adapters/slack.py"}
    assert uses("deliver") == {SLACK_ENTRY}, "the retry loop is delivery's: call delivery.to_slack"


def test_the_slack_checker_sees_a_direct_post(tmp_path: Path) -> None:
    (tmp_path / "area").mkdir()
    (tmp_path / "area" / "body.py").write_text(
        "def body(step):\n    from mercenary_maintenance.adapters import slack\n    slack.post('c', 'x')\n")
    (tmp_path / "area" / "other.py").write_text("import mercenary_maintenance.adapters.slack\n")
    (tmp_path / "area" / "clean.py").write_text("from mercenary_maintenance import delivery\n")
    assert slack_adapter_users(tmp_path) == {"area/body.py", "area/other.py"}


# Intra-package imports sit at module top, where a reader sees a file's dependencies; an import of
# the package's own modules inside a function is left only where it keeps DAG parsing cheap
# (``wiring/dagkit``: the task-time modules), in the doctor's entry point (its probes' registration,
# after the process context is set), and where a comment says why. A ratchet: lower it, never raise it.
FUNCTION_LEVEL_OWN_IMPORTS = 8


def function_level_own_imports(root: Path = PACKAGE) -> list[str]:
    """``file:line`` of every import of ``mercenary_maintenance`` modules inside a function."""
    found = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("include/"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lines = set()
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if ((isinstance(node, ast.ImportFrom) and node.module
                     and node.module.startswith("mercenary_maintenance"))
                        or (isinstance(node, ast.Import)
                            and any(a.name.startswith("mercenary_maintenance") for a in node.names))):
                    lines.add(node.lineno)  # a nested function's import counts once
        found += [f"{rel}:{n}" for n in sorted(lines)]
    return found


def test_own_imports_at_module_top_ratchet() -> None:
    found = function_level_own_imports()
    assert len(found) <= FUNCTION_LEVEL_OWN_IMPORTS, \
        f"{len(found)} imports of the package's own modules inside functions (at most " \
        f"{FUNCTION_LEVEL_OWN_IMPORTS}): move the new one to the module top"


def test_the_ratchet_sees_a_function_level_import(tmp_path: Path) -> None:
    (tmp_path / "body.py").write_text(
        "from mercenary_maintenance import findings\n\n\ndef body(step):\n"
        "    import boto3\n    from mercenary_maintenance import config\n\n"
        "    def inner():\n        import mercenary_maintenance.disk\n")
    assert function_level_own_imports(tmp_path) == ["body.py:6", "body.py:9"]
