"""Which local files may be touched: globs, quiet time, open files, unchanged-since checks."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator
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
    """(base dir, regular files matching the pattern).

    Below the base dir (which the operator named) nothing symlinked is followed: not a
    symlinked file, and no symlinked directory is ever descended into, whatever the glob
    (``*`` or ``**``) would match. Wildcards do not match hidden names (as :mod:`glob`).
    """
    pattern = os.path.expandvars(pattern)
    base = base_dir(pattern)
    rest = list(Path(pattern).parts[len(Path(base).parts):])
    if not os.path.isdir(base) or not rest:
        return base, []
    return base, sorted(set(_match(base, rest)))


def _wild(part: str) -> bool:
    return bool(_GLOB_CHARS & set(part))


def _names(directory: str, part: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return [e for e in entries
                    if fnmatch.fnmatchcase(e.name, part) and (part.startswith(".") or not e.name.startswith("."))]
    except OSError:  # vanished or unreadable: nothing to match there
        return []


def _subdirs(directory: str) -> list[str]:
    return [e.path for e in _names(directory, "*") if e.is_dir(follow_symlinks=False)]


def _match(directory: str, parts: list[str]) -> Iterator[str]:
    head, rest = parts[0], parts[1:]
    if head == "**":
        if rest:
            yield from _match(directory, rest)  # zero directories
        else:  # a trailing ** matches every file below
            yield from (e.path for e in _names(directory, "*") if e.is_file(follow_symlinks=False))
        for sub in _subdirs(directory):
            yield from _match(sub, parts)
        return
    if _wild(head):
        entries = [(e.path, e.is_dir(follow_symlinks=False), e.is_file(follow_symlinks=False))
                   for e in _names(directory, head)]
    else:
        path = os.path.join(directory, head)
        try:
            st = os.lstat(path)
        except OSError:
            return
        entries = [(path, stat.S_ISDIR(st.st_mode), stat.S_ISREG(st.st_mode))]
    for path, is_dir, is_file in entries:
        if rest and is_dir:
            yield from _match(path, rest)
        elif not rest and is_file:
            yield path


def symlink_below(path: str, base: str) -> str | None:
    """The first symlink on the way from ``base`` down to ``path`` (``None``: there is none)."""
    rel = os.path.relpath(path, base)
    if rel.startswith(".."):
        return path
    current = base
    for part in Path(rel).parts:
        current = os.path.join(current, part)
        if os.path.islink(current):
            return current
    return None


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
