"""Which local files may be touched: globs, quiet time, open files, unchanged-since checks."""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class FileState:
    """What must not change between reading a file and deleting it."""

    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileState:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def base_dir(pattern: str) -> str:
    """The static directory before the first glob character (keys are relative to it).

    >>> base_dir("/var/log/app/*.log")
    '/var/log/app'
    >>> base_dir("/x/logs/dag_id=*/**/*.log")
    '/x/logs'
    """
    parts = Path(pattern).parts
    static = []
    for part in parts[:-1]:
        if _GLOB_CHARS & set(part):
            break
        static.append(part)
    return str(Path(*static)) if static else "/"


def expand(pattern: str) -> tuple[str, list[str]]:
    """(base dir, regular files matching the pattern); never follows a symlinked file."""
    pattern = os.path.expandvars(pattern)
    files = []
    for path in sorted(glob.glob(pattern, recursive=True)):
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            files.append(path)
    return base_dir(pattern), files


def open_files(proc: str = "/proc") -> set[str]:
    """Paths some process holds open, from ``/proc/*/fd`` where readable (others are not visible)."""
    found: set[str] = set()
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return found
    for pid in pids:
        fd_dir = os.path.join(proc, pid, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or not ours to read
            continue
        for fd in fds:
            try:
                found.add(os.readlink(os.path.join(fd_dir, fd)))
            except OSError:
                continue
    return found


def busy_reason(st: os.stat_result, path: str, now: float, quiet_s: float, open_paths: AbstractSet[str]) -> str | None:
    """Why a file must not be touched now (``None``: it may be)."""
    if now - st.st_mtime < quiet_s:
        return f"modified within the last {quiet_s / 60:g} minutes"
    if os.path.realpath(path) in open_paths:
        return "open by a process"
    return None


def within(path: str, root: str) -> bool:
    """Is ``path`` (resolved) inside ``root`` (resolved)?"""
    real_root = os.path.realpath(root)
    return os.path.commonpath([os.path.realpath(path), real_root]) == real_root
