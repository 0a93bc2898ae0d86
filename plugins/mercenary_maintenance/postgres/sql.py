"""Load the area's SQL from ``include/sql/postgres`` and pick the variant for a server version.

A check ``name`` lives in ``name.sql`` (PostgreSQL 13, the oldest supported). When a newer
server has better catalog columns, ``name@<server_version_num>.sql`` holds the variant for that
version and later, e.g. ``unused_indexes@160000.sql`` uses ``last_idx_scan`` (16+).

>>> pick_variant({0: "a", 140000: "b", 160000: "c"}, 150004)
140000
>>> pick_variant({0: "a"}, 180000)
0
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from psycopg import sql

SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql" / "postgres"
MIN_VERSION = 130000


class UnsupportedServer(RuntimeError):
    """The server is older than PostgreSQL 13."""


def pick_variant(variants: dict[int, str], server_version: int) -> int:
    """The highest variant version not above ``server_version``."""
    eligible = [v for v in variants if v <= server_version]
    if not eligible:
        raise UnsupportedServer(f"no SQL variant for server_version_num {server_version}")
    return max(eligible)


@cache
def _variants(name: str) -> dict[int, str]:
    found: dict[int, str] = {}
    base = SQL_DIR / f"{name}.sql"
    if base.exists():
        found[0] = base.read_text(encoding="utf-8")
    for path in SQL_DIR.glob(f"{name}@*.sql"):
        found[int(path.stem.split("@", 1)[1])] = path.read_text(encoding="utf-8")
    if not found:
        raise FileNotFoundError(f"no SQL file {base}")
    return found


def text(name: str, server_version: int) -> str:
    if server_version and server_version < MIN_VERSION:
        raise UnsupportedServer(f"PostgreSQL {server_version} is older than 13, which this project supports")
    variants = _variants(name)
    return variants[pick_variant(variants, server_version)]


def load(name: str, server_version: int) -> sql.SQL:
    """The statement ``name`` for this server, as a composable (project-owned text, never user input)."""
    return sql.SQL(text(name, server_version))
