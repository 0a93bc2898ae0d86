"""Host targets (``targets.hosts``): the one interface every server line of the plan runs through.

A :class:`Transport` runs one of a **fixed set of commands** (:data:`COMMANDS`; nothing else is
ever run on a host, so a sudoers file can allow exactly these — docs/areas/hosts.md) and reads,
lists and removes files. Two transports share it:

* ``ssh`` (:mod:`mercenary_maintenance.adapters.ssh`): SSHHook + SFTP, host key pinned, every
  connect and command bounded by ``timeouts.ssh``;
* ``local``: the worker itself, commands through the project's runner, files through ``os``; the
  read-only measurements (``/proc`` files, ``df``) are answered without a process.

With ``targets.hosts`` empty the config has one implicit host named ``local`` (the worker); its
findings say so, so the worker is never passed off as the backend.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import IO, Protocol

from mercenary_maintenance import runner
from mercenary_maintenance.adapters.host_commands import (
    COMMANDS,
    Entry,
    HostCommandError,
    HostUnreachable,
    Result,
    command_line,
    failure,
    shell_line,
)
from mercenary_maintenance.adapters.ssh import SshTransport
from mercenary_maintenance.config import HostTarget, MaintenanceConfig
from mercenary_maintenance.findings import Finding, not_configured

__all__ = ["COMMANDS", "Entry", "HostCommandError", "HostUnreachable", "LocalTransport", "Result", "Transport",
           "command_line", "describe", "expand", "listdir", "opened", "shell_line", "transport_for"]


class Transport(Protocol):
    """What every host check and action uses: fixed commands and file access."""

    host: HostTarget

    def run(self, name: str, *args: str, check: bool = True) -> Result: ...

    def listdir(self, path: str) -> list[Entry]: ...

    def lstat(self, path: str) -> Entry: ...

    def open(self, path: str) -> IO[bytes]: ...

    def remove(self, path: str) -> None: ...

    def close(self) -> None: ...


def label(host: HostTarget) -> str:
    """How a host is named in findings; the implicit host says it is the worker."""
    return host.name


def describe(host: HostTarget) -> str:
    if host.implicit:
        return "local (the Airflow worker itself: targets.hosts is empty)"
    return f"{host.name} ({host.transport})"


class LocalTransport:
    """The worker itself: commands through :mod:`mercenary_maintenance.runner`, files through ``os``."""

    def __init__(self, host: HostTarget, command_s: float) -> None:
        self.host = host
        self.command_s = command_s

    def run(self, name: str, *args: str, check: bool = True) -> Result:

        argv = command_line(name, *args)
        if name in _ANSWERED_HERE:  # the same output without a process (alert_evaluation runs 288 times a day)
            result = _answer_here(name, *args)
            if check and result.returncode != 0:
                raise HostCommandError(failure(self.host.name, argv, result))
            return result
        try:
            proc = runner.run(argv, timeout=self.command_s, check=False)
        except FileNotFoundError as exc:
            if check:
                raise HostCommandError(f"{argv[0]} is not installed on {self.host.name}") from exc
            return Result(127, "", f"{argv[0]}: not found")
        result = Result(proc.returncode, proc.stdout or "", proc.stderr or "")
        if check and result.returncode != 0:
            raise HostCommandError(failure(self.host.name, argv, result))
        return result

    def listdir(self, path: str) -> list[Entry]:
        with os.scandir(path) as entries:
            return [_entry(e.path, e.stat(follow_symlinks=False)) for e in entries]

    def lstat(self, path: str) -> Entry:
        return _entry(path, os.lstat(path))

    def open(self, path: str) -> IO[bytes]:
        return open(path, "rb")

    def remove(self, path: str) -> None:
        os.unlink(path)

    def close(self) -> None:
        pass


# Read-only measurements the worker answers itself: /proc files read directly, ``df -P`` from statvfs
# (GNU df's own arithmetic: used = blocks - free, available = what an unprivileged writer gets).
_PROC_FILES = {"proc_stat": "/proc/stat", "meminfo": "/proc/meminfo"}
_ANSWERED_HERE = {*_PROC_FILES, "df_blocks", "df_inodes"}


def _answer_here(name: str, *args: str) -> Result:
    """
    >>> r = _answer_here("df_blocks", "/")
    >>> r.returncode, r.stdout.splitlines()[0]
    (0, 'Filesystem 1024-blocks Used Available Capacity Mounted on')
    >>> _answer_here("df_blocks", "/no/such/dir").stderr
    'df: /no/such/dir: No such file or directory'
    """
    try:
        if name in _PROC_FILES:
            with open(_PROC_FILES[name], encoding="ascii", errors="replace") as fh:
                return Result(0, fh.read(), "")
        st = os.statvfs(args[-1])
    except OSError as exc:
        where = _PROC_FILES.get(name) or args[-1]
        return Result(1, "", f"{'cat' if name in _PROC_FILES else 'df'}: {where}: {exc.strerror}")
    if name == "df_blocks":
        header = "Filesystem 1024-blocks Used Available Capacity Mounted on"
        total, used, avail = (st.f_blocks * st.f_frsize // 1024, (st.f_blocks - st.f_bfree) * st.f_frsize // 1024,
                              st.f_bavail * st.f_frsize // 1024)
    else:
        header = "Filesystem Inodes IUsed IFree IUse% Mounted on"
        total, used, avail = st.f_files, st.f_files - st.f_ffree, st.f_ffree
    pct = f"{-(-100 * used // (used + avail))}%" if used + avail else "-"
    return Result(0, f"{header}\n- {total} {used} {avail} {pct} {args[-1]}\n", "")


def _entry(path: str, st: os.stat_result) -> Entry:
    return Entry(path, st.st_mode, st.st_size, st.st_mtime)


def transport_for(cfg: MaintenanceConfig, name: str) -> Transport:
    """The transport of the host called ``name`` (not yet connected: the first use connects)."""
    host = cfg.host_target(name)
    if host.transport == "local":
        return LocalTransport(host, cfg.timeouts.ssh.command_s)

    return SshTransport(host, cfg.timeouts.ssh)


@contextmanager
def opened(cfg: MaintenanceConfig, name: str) -> Iterator[Transport]:
    transport = transport_for(cfg, name)
    try:
        yield transport
    finally:
        transport.close()


_GLOB_CHARS = set("*?[")


def base_dir(pattern: str) -> str:
    """The static directory before the first glob character.

    >>> base_dir("/etc/mercenary/*.conf")
    '/etc/mercenary'
    """
    parts = PurePosixPath(pattern).parts
    static = []
    for part in parts[:-1]:
        if _GLOB_CHARS & set(part):
            break
        static.append(part)
    return str(PurePosixPath(*static)) if static else "/"


def listdir(t: Transport, directory: str) -> list[Entry]:
    """A directory's entries on the host; a vanished or unreadable one has none."""
    try:
        return t.listdir(directory)
    except OSError:
        return []


def _named(entries: list[Entry], part: str) -> list[Entry]:
    return [e for e in entries
            if fnmatch.fnmatchcase(e.name, part) and (part.startswith(".") or not e.name.startswith("."))]


def _match(t: Transport, directory: str, parts: list[str]) -> Iterator[Entry]:
    head, rest = parts[0], parts[1:]
    entries = listdir(t, directory)
    if head == "**":
        if rest:
            yield from _match(t, directory, rest)
        else:
            yield from (e for e in _named(entries, "*") if e.is_file)
        for sub in _named(entries, "*"):
            if sub.is_dir:
                yield from _match(t, sub.path, parts)
        return
    for entry in _named(entries, head):
        if rest and entry.is_dir:
            yield from _match(t, entry.path, rest)
        elif not rest and entry.is_file:
            yield entry


def expand(t: Transport, pattern: str) -> tuple[str, list[Entry]]:
    """(base dir, regular files on the host matching ``pattern``, ``**`` recursive); a symlink is never
    followed nor matched, wildcards do not match hidden names."""
    base = base_dir(pattern)
    rest = list(PurePosixPath(pattern).parts[len(PurePosixPath(base).parts):])
    if not rest:
        return base, []
    found = {e.path: e for e in _match(t, base, rest)}
    return base, [found[p] for p in sorted(found)]


def unread_on_the_worker(t: Transport, check: str, target: str, exc: Exception) -> Finding:
    """A host check whose source could not be read: on the implicit host ``local`` (the Airflow worker,
    often a container without a journal, auth log or firewall tool) that is not configured — it is not
    the backend's machine — and anywhere else the check could not run (``exc`` is raised again)."""
    if not t.host.implicit:
        raise exc
    return not_configured(check, target, f"{exc} (the implicit host `local` is the Airflow worker; list the "
                          "backend's machines in targets.hosts)")
