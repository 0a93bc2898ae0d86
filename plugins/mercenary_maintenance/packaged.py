"""The one loader of the files that ship with the package: SQL and the default config.

They live in the project's ``include/`` folder, which the package reaches as
``mercenary_maintenance.include`` (a symlink to ``../../include`` in the source tree, copied
into the wheel as package data) and reads with :mod:`importlib.resources` — the same call
for an installed wheel, an editable install and the plugins folder mounted in the compose stack.

A SQL file serves every supported server version. A line that only applies from a server
version on, or below it, ends with a marker — ``-- pg>=140000`` or ``-- pg<140000`` — and
the loader keeps or drops it for the server at hand (no whole-file copies per version):

>>> for_version("SELECT a,\\n  b -- pg>=140000\\n  NULL AS b -- pg<140000\\nFROM t", 150000)
'SELECT a,\\n  b\\nFROM t'
>>> for_version("SELECT a,\\n  b -- pg>=140000\\n  NULL AS b -- pg<140000\\nFROM t", 130000)
'SELECT a,\\n  NULL AS b\\nFROM t'
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

_VERSION_MARK = re.compile(r"\s*--\s*pg(?P<op>>=|<)(?P<num>\d{5,6})\s*$")


@cache
def include_root() -> Traversable:
    """``include/``, as shipped with the package."""
    root = resources.files("mercenary_maintenance.include")
    if not (root / "sql").is_dir():
        raise FileNotFoundError(f"the package's include/sql is missing under {root} (broken install?)")
    return root


def sql_areas() -> list[str]:
    """The areas that ship SQL (``include/sql/<area>/``), sorted."""
    return sorted(p.name for p in (include_root() / "sql").iterdir() if p.is_dir())


def sql_names(area: str) -> list[str]:
    """The statement names of one area (``include/sql/<area>/*.sql``), sorted."""
    folder = include_root() / "sql" / area
    return sorted(p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql"))


@cache
def sql_source(area: str, name: str) -> str:
    """The text of ``include/sql/<area>/<name>.sql`` as shipped (version markers included)."""
    path = include_root() / "sql" / area / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file sql/{area}/{name}.sql in {include_root()}")
    return path.read_text(encoding="utf-8")


def for_version(text: str, server_version: int) -> str:
    """Keep the lines that apply to ``server_version`` and strip their markers."""
    kept = []
    for line in text.splitlines():
        mark = _VERSION_MARK.search(line)
        if mark is None:
            kept.append(line)
            continue
        since = int(mark["num"])
        applies = server_version >= since if mark["op"] == ">=" else server_version < since
        if applies:
            kept.append(line[: mark.start()])
    return "\n".join(kept)


def sql_text(area: str, name: str, server_version: int | None = None) -> str:
    """The statement ``name`` of ``area``; with a server version, its version-marked lines resolved."""
    text = sql_source(area, name)
    return for_version(text, server_version) if server_version is not None else text


def default_config_text() -> str:
    """The shipped ``maintenance.yaml`` (the plan's parameters)."""
    return (include_root() / "maintenance.yaml").read_text(encoding="utf-8")


def plan_coverage_text() -> str:
    """The shipped plan-to-code map (``docs/plan-coverage.md``, linked into ``include/``)."""
    return (include_root() / "plan-coverage.md").read_text(encoding="utf-8")
