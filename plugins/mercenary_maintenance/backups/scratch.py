"""A throw-away PostgreSQL server on a restored data directory (monthly chain restore).

It listens only on a Unix socket inside its own temporary directory (no TCP port, so
nothing else can reach it), trusts local connections (the directory is private), and
runs as a non-root user: ``postgres`` refuses root, so when we are root the data
directory is handed to the ``postgres`` account and the server runs through ``runuser``.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mercenary_maintenance import runner

log = logging.getLogger(__name__)
SOCKET_PORT = 5432  # only names the socket file; the socket directory is private
RUN_AS = "postgres"

# Settings that must not follow the data directory into the scratch copy.
OVERRIDES = {
    "listen_addresses": "''",
    "port": str(SOCKET_PORT),
    "archive_mode": "off",
    "summarize_wal": "off",
    "shared_preload_libraries": "''",
    "logging_collector": "off",
    "primary_conninfo": "''",
    "restore_command": "''",
}


@dataclass(frozen=True)
class ScratchServer:
    socket_dir: Path
    port: int = SOCKET_PORT

    def connect(self, user: str, dbname: str) -> object:
        from mercenary_maintenance.adapters.postgres import connect_params

        return connect_params(host=str(self.socket_dir), port=self.port, user=user, dbname=dbname, autocommit=True)


def as_user() -> list[str]:
    return ["runuser", "-u", RUN_AS, "--"] if os.geteuid() == 0 else []


def hand_over(path: Path) -> None:
    """Give ``path`` (recursively) to the unprivileged account when we are root."""
    if os.geteuid() != 0:
        return
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            shutil.chown(os.path.join(root, name), RUN_AS, RUN_AS)
    shutil.chown(path, RUN_AS, RUN_AS)


def prepare(data_dir: Path, socket_dir: Path) -> None:
    settings = {**OVERRIDES, "unix_socket_directories": f"'{socket_dir}'"}
    with (data_dir / "postgresql.auto.conf").open("a", encoding="utf-8") as fh:
        fh.write("\n# mercenary_maintenance scratch restore\n")
        fh.writelines(f"{k} = {v}\n" for k, v in settings.items())
    (data_dir / "pg_hba.conf").write_text("local all all trust\n", encoding="utf-8")
    for signal_file in ("standby.signal", "recovery.signal"):
        (data_dir / signal_file).unlink(missing_ok=True)
    data_dir.chmod(0o700)


@contextmanager
def scratch_server(bin_dir: Path, data_dir: Path, timeout_s: int = 300) -> Iterator[ScratchServer]:
    """Start postgres on ``data_dir``; always stop it (immediate) on exit."""
    socket_dir = data_dir.parent / "socket"
    socket_dir.mkdir(exist_ok=True)
    prepare(data_dir, socket_dir)
    hand_over(data_dir.parent)
    pg_ctl = [*as_user(), str(bin_dir / "pg_ctl"), "-D", str(data_dir)]
    log_file = data_dir.parent / "scratch-server.log"
    try:
        runner.run([*pg_ctl, "start", "-w", "-t", str(timeout_s), "-l", str(log_file)], timeout=timeout_s + 30)
    except runner.CommandError as exc:
        tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        raise RuntimeError(f"scratch server did not start: {exc}; log: {tail}") from None
    try:
        yield ScratchServer(socket_dir)
    finally:
        runner.run([*pg_ctl, "stop", "-m", "immediate", "-w", "-t", "60"], timeout=90)
