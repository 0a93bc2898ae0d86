"""``tmp.cleanup``: files older than N days under the configured roots.

Never follows a symlink (links are listed as skipped, their targets never touched), never
leaves the roots, deletes through a directory file descriptor after re-checking the file,
and by default only lists what would go (dry run).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Any

from mercenary_maintenance.logs import files

MAX_LISTED = 100


@dataclass
class Sweep:
    """One root's sweep, on the worker or a host: ``candidates`` are (path, size, state) where state is
    what :func:`remove` (or :func:`.remote.remove`) re-checks before deleting (a ``FileState``, an ``Entry``)."""

    root: str
    candidates: list[tuple[str, int, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    deleted: int = 0
    deleted_bytes: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)

    @property
    def candidate_bytes(self) -> int:
        return sum(size for _, size, _ in self.candidates)

    def details(self) -> dict[str, Any]:
        return {"root": self.root, "files": [{"path": p, "bytes": s} for p, s, _ in self.candidates[:MAX_LISTED]],
                "file_count": len(self.candidates), "bytes": self.candidate_bytes, "deleted": self.deleted,
                "deleted_bytes": self.deleted_bytes, "skipped": self.skipped[:MAX_LISTED],
                "skipped_count": len(self.skipped), "failed": self.failed[:MAX_LISTED]}


def scan(root: str, older_than_s: float, now: float, open_paths: set[str]) -> Sweep:
    """What would be removed under ``root`` (nothing is changed)."""
    real_root = os.path.realpath(root)
    sweep = Sweep(root)
    if os.path.islink(root.rstrip("/")):  # became a link after the config was validated
        sweep.skipped.append({"path": root, "reason": "root is a symlink (never followed)"})
        return sweep
    if not os.path.isdir(real_root):
        sweep.skipped.append({"path": root, "reason": "root does not exist"})
        return sweep
    for dirpath, dirnames, filenames in os.walk(real_root, followlinks=False):
        if not files.within(dirpath, real_root):  # cannot happen without following links; belt and braces
            dirnames[:] = []
            continue
        for name in [*filenames, *dirnames]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                sweep.skipped.append({"path": path, "reason": "symlink (never followed, never removed)"})
            elif stat.S_ISREG(st.st_mode) and now - st.st_mtime > older_than_s:
                if os.path.realpath(path) in open_paths:
                    sweep.skipped.append({"path": path, "reason": "open by a process"})
                else:
                    sweep.candidates.append((path, st.st_size, files.FileState.of(st)))
    return sweep


def remove(sweep: Sweep) -> None:
    """Delete the scanned candidates that are still the same regular files inside the root."""
    real_root = os.path.realpath(sweep.root)
    for path, size, state in sweep.candidates:
        directory, name = os.path.split(path)
        try:
            if not files.within(directory, real_root) or os.path.realpath(directory) != directory:
                sweep.skipped.append({"path": path, "reason": "directory moved or became a link"})
                continue
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                st = os.lstat(name, dir_fd=fd)
                if not stat.S_ISREG(st.st_mode) or files.FileState.of(st) != state:
                    sweep.skipped.append({"path": path, "reason": "changed since the scan"})
                    continue
                os.unlink(name, dir_fd=fd)
            finally:
                os.close(fd)
        except OSError as exc:
            sweep.failed.append({"path": path, "error": f"{type(exc).__name__}: {exc.strerror}"})
            continue
        sweep.deleted += 1
        sweep.deleted_bytes += size
