"""Throw-away PostgreSQL servers on the worker: never the production server.

:func:`scratch_server` starts one on a restored data directory (monthly chain restore). It
listens only on a Unix socket inside its own temporary directory (no TCP port, so nothing
else can reach it) and trusts local connections (the directory is private).

:func:`fresh_server` initdb's an empty one in a temporary directory, listening on a free
loopback port with a random password (scram-sha-256), for the logical restore tests
(``backups.restore_on: scratch_server``); it is stopped and its directory removed on exit,
whatever happened, each step with a deadline.

Both run as a non-root user: ``postgres`` refuses root, so when we are root the directory
is handed to the ``postgres`` account and the programs run through ``runuser``.
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
from mercenary_maintenance.backups.pgconn import PgParams

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


FRESH_USER = "mm_restore"
START_ATTEMPTS = 3  # a free port can be taken between choosing it and the server binding it
FRESH_PREFIX = "mm-restore-server-"
OWNER_FILE = "owner"  # "<pid of the worker process>\n<pg_ctl path>": lets a later run stop an orphan


@dataclass(frozen=True)
class FreshServer:
    pg: PgParams
    major: int
    bin_dir: Path
    base_dir: Path
    start_s: float
    swept: tuple[str, ...] = ()


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _initdb(bin_dir: Path, base: Path, password: str, timeout_s: float) -> Path:
    data_dir = base / "data"
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n", encoding="utf-8")
    pwfile.chmod(0o600)
    hand_over(base)
    try:
        runner.run([*as_user(), str((bin_dir / "initdb").resolve()), "-D", str(data_dir), "-U", FRESH_USER, "--pwfile",
                    str(pwfile), "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync"],
                   timeout=timeout_s)
    finally:
        pwfile.unlink(missing_ok=True)
    return data_dir


def _configure(data_dir: Path, socket_dir: Path, port: int) -> None:
    settings = {"listen_addresses": "'127.0.0.1'", "port": str(port), "unix_socket_directories": f"'{socket_dir}'",
                "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "logging_collector": "off",
                "max_connections": "20", "shared_preload_libraries": "''", "max_wal_size": "1GB"}
    with (data_dir / "postgresql.auto.conf").open("a", encoding="utf-8") as fh:
        fh.write("\n# mercenary_maintenance scratch restore server\n")
        fh.writelines(f"{k} = {v}\n" for k, v in settings.items())


def _stop(pg_ctl: list[str], data_dir: Path, timeout_s: float) -> None:
    """Stop the server (immediate: nothing in it is worth keeping); kill it if pg_ctl cannot."""
    import signal

    if not (data_dir / "postmaster.pid").exists():
        return
    try:
        runner.run([*pg_ctl, "stop", "-m", "immediate", "-w", "-t", str(int(timeout_s))], timeout=timeout_s + 10)
        return
    except Exception:
        log.exception("pg_ctl stop of the scratch server in %s failed; killing it", data_dir)
    try:
        pid = int((data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()[0])
        os.kill(pid, signal.SIGKILL)  # the postmaster; its children exit when it is gone
    except (OSError, ValueError, IndexError):
        log.exception("could not kill the scratch server in %s", data_dir)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphans(work_dir: str | None, timeout_s: float = 60) -> list[str]:
    """Stop and remove scratch servers whose owning worker process is gone (killed with SIGKILL, so
    its ``finally`` never ran). Servers of live processes (concurrent restores) are left alone."""
    import tempfile

    swept = []
    for base in sorted(Path(work_dir or tempfile.gettempdir()).glob(FRESH_PREFIX + "*")):
        try:
            pid_text, pg_ctl_path = (base / OWNER_FILE).read_text(encoding="utf-8").splitlines()[:2]
            pid = int(pid_text)
        except (OSError, ValueError):
            continue  # not fully set up or not ours: leave it
        if _alive(pid):
            continue
        _stop([*as_user(), pg_ctl_path, "-D", str(base / "data")], base / "data", timeout_s)
        shutil.rmtree(base, ignore_errors=True)
        log.warning("removed orphaned scratch restore server %s (its worker process %d is gone)", base, pid)
        swept.append(str(base))
    return swept


@contextmanager
def fresh_server(bin_dir: Path, major: int, work_dir: str | None = None,
                 timeout_s: float = 120) -> Iterator[FreshServer]:
    """An empty server of ``bin_dir``'s version on a free loopback port; always stopped and removed."""
    import secrets
    import tempfile
    import time

    started = time.monotonic()
    swept = sweep_orphans(work_dir, min(timeout_s, 60))
    base = Path(tempfile.mkdtemp(prefix=FRESH_PREFIX, dir=work_dir))
    password = secrets.token_urlsafe(24)
    data_dir = base / "data"
    # real paths: the unprivileged account may not traverse a private directory of symlinks
    pg_ctl_path = str((bin_dir / "pg_ctl").resolve())
    pg_ctl = [*as_user(), pg_ctl_path, "-D", str(data_dir)]
    (base / OWNER_FILE).write_text(f"{os.getpid()}\n{pg_ctl_path}\n", encoding="utf-8")
    failing = True
    try:
        _initdb(bin_dir, base, password, timeout_s)
        socket_dir = base / "socket"
        socket_dir.mkdir()
        hand_over(base)
        log_file = base / "server.log"
        for attempt in range(1, START_ATTEMPTS + 1):
            port = _free_port()
            _configure(data_dir, socket_dir, port)
            hand_over(base)
            try:
                runner.run([*pg_ctl, "start", "-w", "-t", str(int(timeout_s)), "-l", str(log_file)],
                           timeout=timeout_s + 10)
                break
            except runner.CommandError as exc:
                tail = log_file.read_text(errors="replace")[-1500:] if log_file.exists() else ""
                if attempt == START_ATTEMPTS or "could not bind" not in tail:
                    raise RuntimeError(f"scratch restore server did not start: {exc}; log: {tail}") from None
        pg = PgParams(host="127.0.0.1", port=port, user=FRESH_USER, password=password, dbname="postgres")
        yield FreshServer(pg, major, bin_dir, base, round(time.monotonic() - started, 3), tuple(swept))
        failing = False
    finally:
        try:
            _stop(pg_ctl, data_dir, min(timeout_s, 60))
        finally:
            shutil.rmtree(base, ignore_errors=True)
            if base.exists() and not failing:
                raise RuntimeError(f"scratch restore server directory {base} could not be removed")
