"""Throw-away PostgreSQL servers on the worker: never the production server, never left running.

Everything lives under one **private root**, ``<backups.scratch_dir or $TMPDIR>/mm-scratch-<uid>``:
a directory (not a symlink) owned by the account that runs the servers, mode 0700. Its owner and
mode are checked (``lstat``) before anything found there is trusted; a root that fails the check
is refused, naming the path, never used. Each restore works in a **workspace** in it
(:func:`workspace`) with an owner file (worker pid and that process's start time): a later
:func:`sweep_orphans` stops the servers of workspaces whose worker is gone (killed with SIGKILL,
so its ``finally`` never ran) and removes them. The sweep runs no program named by a file: it
signals a ``postmaster.pid`` only when ``/proc/<pid>`` shows that very server (its executable is
``postgres``, its working directory the data directory); ``pg_ctl`` is only ever the one
discovered in the PostgreSQL installation (:mod:`.binaries`).

:func:`scratch_server` starts one on a restored data directory (monthly chain restore), with a
generated minimal configuration (``-c config_file=``: no SSL, no huge pages, small memory, no
archiving or preload libraries) so a copy of a production cluster whose settings need its
certificates, huge pages or extensions — or that keeps its configuration outside the data
directory (Debian) — still starts. It listens only on a Unix socket in its workspace.

:func:`fresh_server` initdb's an empty one, listening on a free loopback port with a random
password (scram-sha-256), for the logical restore tests (``backups.restore_on:
scratch_server``); it is stopped and its workspace removed on exit, whatever happened, each
step with a deadline.

Both run as a non-root user: ``postgres`` refuses root, so when we are root the workspace is
handed to the ``postgres`` account and the programs run through ``runuser``.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mercenary_maintenance import runner
from mercenary_maintenance.adapters.postgres import connect_params
from mercenary_maintenance.config import TimeoutsConfig
from mercenary_maintenance.pg.params import PgParams

log = logging.getLogger(__name__)
SOCKET_PORT = 5432  # only names the socket file; the socket directory is private
RUN_AS = "postgres"
ROOT_PREFIX = "mm-scratch-"
OWNER_FILE = "owner.json"  # {"worker_pid", "worker_started"}: whose workspace it is
PROC = Path("/proc")

# The whole configuration of a scratch server: nothing of the source's postgresql.conf (its SSL
# certificates, huge pages, preload libraries, archive command, memory sizing) follows the copy.
MINIMAL_CONF = {
    "listen_addresses": "''",
    "port": str(SOCKET_PORT),
    "max_connections": "20",
    "shared_buffers": "32MB",
    "work_mem": "4MB",
    "maintenance_work_mem": "64MB",
    "max_wal_size": "1GB",
    "huge_pages": "off",
    "ssl": "off",
    "jit": "off",
    "fsync": "off",  # a throw-away copy: nothing in it is worth an fsync
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "autovacuum": "off",
    "archive_mode": "off",
    "shared_preload_libraries": "''",
    "session_preload_libraries": "''",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "primary_conninfo": "''",
    "restore_command": "''",
    "recovery_target_timeline": "'latest'",
    "dynamic_shared_memory_type": "posix",
}

SINCE_MAJOR = {"summarize_wal": (17, "off")}  # unknown names are fatal in older servers


class UnsafeScratchRoot(RuntimeError):
    """The scratch root exists but is not private to the account that runs the servers."""


def server_uid() -> tuple[int, int]:
    """The uid/gid that runs scratch servers: ours, or ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    import pwd

    entry = pwd.getpwnam(RUN_AS)
    return entry.pw_uid, entry.pw_gid


def as_user() -> list[str]:
    return ["runuser", "-u", RUN_AS, "--"] if os.geteuid() == 0 else []


def hand_over(path: Path) -> None:
    """Give ``path`` (recursively, symlinks not followed) to the unprivileged account when we are root."""
    if os.geteuid() != 0:
        return
    uid, gid = server_uid()
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)
    os.chown(path, uid, gid, follow_symlinks=False)


def private_problem(path: Path, uid: int) -> str | None:
    """Why ``path`` is not a private directory of ``uid`` (``None``: it is). Never follows a symlink."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return "does not exist"
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        return "is not a directory (a symlink or a file)"
    if st.st_uid != uid:
        return f"is owned by uid {st.st_uid}, not {uid}"
    if st.st_mode & 0o077:
        return f"has mode {stat.S_IMODE(st.st_mode):04o}, not 0700"
    return None


def scratch_root(work_dir: str | None) -> Path:
    """The private root (created 0700 when missing); :class:`UnsafeScratchRoot` when it is not private."""
    import tempfile

    uid, gid = server_uid()
    root = Path(work_dir or tempfile.gettempdir()) / f"{ROOT_PREFIX}{uid}"
    try:
        root.mkdir(mode=0o700)
        if os.geteuid() == 0:
            os.chown(root, uid, gid, follow_symlinks=False)
    except FileExistsError:
        pass
    problem = private_problem(root, uid)
    if problem is not None:
        raise UnsafeScratchRoot(f"scratch root {root} {problem}: nothing in it is trusted or used; remove it "
                                "(or set backups.scratch_dir to a directory only the worker can write)")
    return root


def process_started(pid: int) -> str | None:
    """The start time of ``pid`` (``/proc/<pid>/stat`` field 22; ``None``: no such live process)."""
    try:
        raw = (PROC / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[-1].split()
    if len(fields) <= 19 or fields[0] in ("Z", "X"):  # a zombie has exited: only its parent's wait is left
        return None
    return fields[19]


def is_server_of(pid: int, data_dir: Path) -> bool:
    """Whether ``/proc/<pid>`` is a ``postgres`` process working in ``data_dir`` (the postmaster
    chdirs into its data directory); anything else — a reused pid, a planted pid — is not signalled."""
    try:
        exe = os.readlink(PROC / str(pid) / "exe")
        cwd = os.readlink(PROC / str(pid) / "cwd")
    except OSError:
        return False
    return Path(exe).name.split()[0] == "postgres" and os.path.realpath(cwd) == os.path.realpath(data_dir)


def postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def end_server(data_dir: Path, timeout_s: float) -> bool:
    """Immediate shutdown (SIGQUIT, then SIGKILL at ``timeout_s``) of the server on ``data_dir`` —
    only when ``/proc`` shows it is that server. True when one was ended."""
    pid = postmaster_pid(data_dir)
    if pid is None or not is_server_of(pid, data_dir):
        return False
    started = process_started(pid)
    for sig, wait_s in ((signal.SIGQUIT, timeout_s), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if process_started(pid) != started:
                return True
            time.sleep(0.1)
    log.error("scratch server %d on %s survived SIGKILL", pid, data_dir)
    return True


def _owner_alive(owner: dict[str, object]) -> bool:
    pid = owner.get("worker_pid")
    return isinstance(pid, int) and process_started(pid) is not None and process_started(pid) == owner.get(
        "worker_started")


def sweep_orphans(work_dir: str | None, timeout_s: float = 60) -> list[str]:
    """End the servers of workspaces whose worker process is gone and remove those workspaces.

    Workspaces of live workers (concurrent restores) are left alone; so is anything in the root
    that is not a private directory of ours with a readable owner file."""
    root = scratch_root(work_dir)
    uid, _ = server_uid()
    swept = []
    for space in sorted(root.iterdir()):
        if private_problem(space, uid) is not None and not _ours_as_root(space):
            continue
        try:
            owner = json.loads((space / OWNER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # being set up (or not ours): leave it
        if not isinstance(owner, dict) or _owner_alive(owner):
            continue
        for pid_file in space.glob("*/postmaster.pid"):
            end_server(pid_file.parent, timeout_s)
        shutil.rmtree(space, ignore_errors=True)
        log.warning("removed orphaned scratch workspace %s (its worker process %s is gone)", space,
                    owner.get("worker_pid"))
        swept.append(str(space))
    return swept


def _ours_as_root(space: Path) -> bool:
    """Root creates a workspace and then hands it over; one not yet handed over is root's own."""
    return os.geteuid() == 0 and private_problem(space, 0) is None


@contextmanager
def workspace(work_dir: str | None, purpose: str, *, sweep: bool = True) -> Iterator[Path]:
    """A private directory for one restore in the scratch root, with its owner file; the servers in it
    are ended and it is removed on exit. Orphaned workspaces of dead workers are swept first."""
    import tempfile

    if sweep:
        sweep_orphans(work_dir)
    space = Path(tempfile.mkdtemp(prefix=f"{purpose}-", dir=scratch_root(work_dir)))
    me = os.getpid()
    (space / OWNER_FILE).write_text(json.dumps({"worker_pid": me, "worker_started": process_started(me)}),
                                    encoding="utf-8")
    hand_over(space)
    try:
        yield space
    finally:
        for pid_file in space.glob("*/postmaster.pid"):
            end_server(pid_file.parent, 30)
        shutil.rmtree(space, ignore_errors=True)


def owning_workspace(path: Path) -> Path | None:
    """The workspace ``path`` is in (a directory with an owner file right under a scratch root)."""
    for parent in path.resolve().parents:
        if parent.parent.name.startswith(ROOT_PREFIX) and (parent / OWNER_FILE).exists():
            return parent
    return None


def write_conf(run_dir: Path, socket_dir: Path, major: int, port: int = SOCKET_PORT,
               hba_lines: str = "local all all trust\n", **overrides: str) -> Path:
    """The generated ``postgresql.conf`` (plus ``pg_hba.conf`` of ``hba_lines``, empty ``pg_ident.conf``)."""
    hba, ident, conf = run_dir / "pg_hba.conf", run_dir / "pg_ident.conf", run_dir / "postgresql.conf"
    hba.write_text(hba_lines, encoding="utf-8")
    ident.write_text("", encoding="utf-8")
    versioned = {name: value for name, (since, value) in SINCE_MAJOR.items() if major >= since}
    settings = {**MINIMAL_CONF, **versioned, "port": str(port), "unix_socket_directories": f"'{socket_dir}'",
                "hba_file": f"'{hba}'", "ident_file": f"'{ident}'", **overrides}
    conf.write_text("# mercenary_maintenance scratch server: generated, nothing of the source's\n"
                    + "".join(f"{k} = {v}\n" for k, v in settings.items()), encoding="utf-8")
    return conf


@dataclass(frozen=True)
class ScratchServer:
    socket_dir: Path
    port: int = SOCKET_PORT

    def connect(self, user: str, dbname: str, timeouts: TimeoutsConfig) -> object:

        return connect_params(timeouts=timeouts, host=str(self.socket_dir), port=self.port, user=user, dbname=dbname,
                              autocommit=True)


def prepare(data_dir: Path) -> None:
    """Make a restored copy of a cluster startable: no standby/recovery signal, and its
    ``postgresql.auto.conf`` (ALTER SYSTEM: it would override the generated file) set aside."""
    for signal_file in ("standby.signal", "recovery.signal"):
        (data_dir / signal_file).unlink(missing_ok=True)
    auto = data_dir / "postgresql.auto.conf"
    if auto.exists():
        auto.rename(data_dir / "postgresql.auto.conf.source")
    auto.write_text("# set aside by mercenary_maintenance: see postgresql.auto.conf.source\n", encoding="utf-8")
    data_dir.chmod(0o700)


def _pg_ctl(bin_dir: Path, data_dir: Path) -> list[str]:
    # real paths: the unprivileged account may not traverse a private directory of symlinks
    return [*as_user(), str((bin_dir / "pg_ctl").resolve()), "-D", str(data_dir)]


def _start(bin_dir: Path, data_dir: Path, conf: Path, log_file: Path, timeout_s: float) -> None:
    runner.run([*_pg_ctl(bin_dir, data_dir), "start", "-w", "-t", str(int(timeout_s)), "-l", str(log_file),
                "-o", f"-c config_file={shlex.quote(str(conf))}"], timeout=timeout_s + 10)


def _log_tail(log_file: Path) -> str:
    return log_file.read_text(errors="replace")[-1500:] if log_file.exists() else ""


def _data_major(data_dir: Path) -> int:
    """
    The major version of a data directory (``PG_VERSION``: "15", "18").
    """
    return int((data_dir / "PG_VERSION").read_text(encoding="utf-8").strip().split(".")[0])


@contextmanager
def scratch_server(bin_dir: Path, data_dir: Path, timeout_s: float = 300) -> Iterator[ScratchServer]:
    """Start postgres on ``data_dir`` (inside a :func:`workspace`); always stop it (immediate) on exit."""
    space = owning_workspace(data_dir)
    if space is None:
        raise ValueError(f"{data_dir} is not in a scratch workspace: a server there could outlive its worker")
    run_dir = space / f"run-{data_dir.name}"
    socket_dir = run_dir / "socket"
    socket_dir.mkdir(parents=True)
    conf = write_conf(run_dir, socket_dir, _data_major(data_dir))
    prepare(data_dir)
    hand_over(space)
    log_file = run_dir / "server.log"
    try:
        _start(bin_dir, data_dir, conf, log_file, timeout_s)
    except runner.CommandError as exc:
        _stop(bin_dir, data_dir, 30)
        raise RuntimeError(f"scratch server did not start: {exc}; log: {_log_tail(log_file)}") from None
    try:
        yield ScratchServer(socket_dir)
    finally:
        _stop(bin_dir, data_dir, 60)


FRESH_USER = "mm_restore"
START_ATTEMPTS = 3  # a free port can be taken between choosing it and the server binding it


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


def _stop(bin_dir: Path, data_dir: Path, timeout_s: float) -> None:
    """Stop the server (immediate: nothing in it is worth keeping) with the discovered pg_ctl; end it
    by signal (after the ``/proc`` check) if pg_ctl cannot."""
    if not (data_dir / "postmaster.pid").exists():
        return
    try:
        runner.run([*_pg_ctl(bin_dir, data_dir), "stop", "-m", "immediate", "-w", "-t", str(int(timeout_s))],
                   timeout=timeout_s + 10)
        return
    except Exception:
        log.exception("pg_ctl stop of the scratch server in %s failed; ending it by signal", data_dir)
    end_server(data_dir, timeout_s)


@contextmanager
def fresh_server(bin_dir: Path, major: int, timeouts: TimeoutsConfig, work_dir: str | None = None,
                 timeout_s: float = 120) -> Iterator[FreshServer]:
    """An empty server of ``bin_dir``'s version on a free loopback port; always stopped and removed."""
    import secrets

    started = time.monotonic()
    swept = sweep_orphans(work_dir, min(timeout_s, 60))
    with workspace(work_dir, "restore-server", sweep=False) as base:
        password = secrets.token_urlsafe(24)
        data_dir = _initdb(bin_dir, base, password, timeout_s)
        socket_dir = base / "socket"
        socket_dir.mkdir()
        log_file = base / "server.log"
        hba = "local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n"
        for attempt in range(1, START_ATTEMPTS + 1):
            port = _free_port()
            conf = write_conf(base, socket_dir, major, port, hba, listen_addresses="'127.0.0.1'")
            hand_over(base)
            try:
                _start(bin_dir, data_dir, conf, log_file, timeout_s)
                break
            except runner.CommandError as exc:
                tail = _log_tail(log_file)
                if attempt == START_ATTEMPTS or "could not bind" not in tail:
                    _stop(bin_dir, data_dir, min(timeout_s, 60))
                    raise RuntimeError(f"scratch restore server did not start: {exc}; log: {tail}") from None
        try:
            pg = PgParams(host="127.0.0.1", port=port, user=FRESH_USER, password=password, dbname="postgres",
                          timeouts=timeouts)
            yield FreshServer(pg, major, bin_dir, base, round(time.monotonic() - started, 3), tuple(swept))
        finally:
            _stop(bin_dir, data_dir, min(timeout_s, 60))
    if base.exists():
        raise RuntimeError(f"scratch restore server directory {base} could not be removed")
