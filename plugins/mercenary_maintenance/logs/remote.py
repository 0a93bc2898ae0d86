"""Files on a host target, reached only through its transport (SFTP over SSH, or ``os`` for ``local``).

The same rules as the worker's own files (:mod:`mercenary_maintenance.logs.files`), over a
:class:`~mercenary_maintenance.hosts.Transport`:

* globs are expanded with ``listdir``/``lstat``; a symlink is never followed nor matched;
* the files some process holds open come from the host's ``/proc/*/fd`` (the fixed command
  ``open_files``); when they cannot all be read (``Permission denied``, or the command fails),
  :func:`open_paths` says ``None`` and **nothing is deleted** on that host;
* a file is deleted only when it is exactly the file that was read (size and mtime unchanged),
  not open (read again just before deleting), and — for archives — its S3 copy was read back and
  verified by sha256.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from mercenary_maintenance.adapters.host_commands import Entry
from mercenary_maintenance.config import LogSet
from mercenary_maintenance.hosts import Transport, expand
from mercenary_maintenance.hosts import listdir as _listdir
from mercenary_maintenance.logs import archive, s3
from mercenary_maintenance.logs.cleanup import Sweep

log = logging.getLogger(__name__)
UNREADABLE_OPEN_FILES = "the host's open files could not be read (its /proc/*/fd): nothing is deleted there"


def open_paths(t: Transport) -> set[str] | None:
    """Paths some process on the host holds open; ``None`` when they cannot all be read."""
    try:
        result = t.run("open_files", check=False)
    except Exception as exc:  # unreachable, timed out: cannot tell
        log.warning("open files on %s unreadable: %s", t.host.name, exc)
        return None
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    # A process that ended during the walk is fine ("No such file or directory"); anything else is not.
    if result.returncode not in (0, 1) or any("No such file" not in line for line in errors):
        return None
    return {line for line in result.stdout.splitlines() if line.startswith("/")}


def unchanged(t: Transport, entry: Entry) -> bool:
    try:
        now = t.lstat(entry.path)
    except OSError:
        return False
    return now.is_file and now.size == entry.size and now.mtime == entry.mtime


@dataclass(frozen=True)
class HostPlan:
    bucket: str
    level: int
    quiet_s: float
    delete: bool
    extra_args: dict[str, str] = field(default_factory=dict)


def _compress(t: Transport, entry: Entry, dest: str, level: int) -> s3.Packed:
    with t.open(entry.path) as src:
        return s3.compress_stream(src, dest, level)


def archive_set(client: Any, plan: HostPlan, t: Transport, log_set: LogSet) -> archive.Tally:
    """Archive one set's old files from the host; delete each only after its S3 copy was verified."""
    tally = archive.Tally()
    deletable: list[Entry] = []
    first_open = open_paths(t)
    with tempfile.TemporaryDirectory(prefix="mm-hostlogs-") as staging:
        for pattern in log_set.paths:
            base, entries = expand(t, pattern)
            for entry in entries:
                try:
                    if _archive_one(client, plan, t, log_set, base, entry, first_open, tally,
                                    os.path.join(staging, "part.zst")):
                        deletable.append(entry)
                except Exception as exc:  # recorded per file; the action fails at the end
                    log.exception("archiving %s:%s failed", t.host.name, entry.path)
                    tally.failed.append({"path": entry.path, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
    if plan.delete and deletable:
        _delete_verified(t, deletable, tally)
    return tally


def _archive_one(client: Any, plan: HostPlan, t: Transport, log_set: LogSet, base: str, entry: Entry,
                 open_now: set[str] | None, tally: archive.Tally, staging: str) -> bool:
    """Upload and verify one file; True when it may be deleted (subject to the final checks)."""
    now = time.time()
    if now - entry.mtime < log_set.archive_after_days * 86400:
        tally.recent += 1
        return False
    if now - entry.mtime < plan.quiet_s:
        tally.skip(entry.path, f"modified within the last {plan.quiet_s / 60:g} minutes")
        return False
    if open_now is not None and entry.path in open_now:
        tally.skip(entry.path, "open by a process on the host; kept")
        return False
    packed = _compress(t, entry, staging, plan.level)
    if packed.source_size != entry.size or not unchanged(t, entry):
        tally.skip(entry.path, "changed while being read")
        return False
    key = s3.object_key(log_set.name, base, entry.path, entry.mtime, packed.source_sha256, host=t.host.name)
    if archive._already_there(client, plan.bucket, key, packed.source_sha256):
        tally.already_archived += 1
    else:
        s3.upload(client, plan.bucket, key, packed, plan.extra_args)
        problem = s3.verify(client, plan.bucket, key, packed.sha256, packed.size, packed.source_sha256)
        if problem:
            tally.failed.append({"path": entry.path, "key": key, "error": f"verification failed: {problem}"})
            return False
        tally.archived += 1
        tally.bytes_in += packed.source_size
        tally.bytes_out += packed.size
    tally.keys.append(key)
    return True


def _delete_verified(t: Transport, entries: list[Entry], tally: archive.Tally) -> None:
    """Delete verified files: the open files are read again first; unreadable → nothing deleted."""
    still_open = open_paths(t)
    for entry in entries:
        if still_open is None:
            tally.skip(entry.path, UNREADABLE_OPEN_FILES)
        elif entry.path in still_open:
            tally.skip(entry.path, "open by a process on the host; archived, kept")
        elif not unchanged(t, entry):
            tally.skip(entry.path, "changed after upload; kept (next run archives the new content)")
        else:
            t.remove(entry.path)
            tally.deleted += 1


def local_bytes(t: Transport, log_set: LogSet) -> int:
    return sum(e.size for pattern in log_set.paths for e in expand(t, pattern)[1])


# ------------------------------------------------------------------ tmp.cleanup


def sweep(t: Transport, root: str, older_than_s: float, now: float, open_now: set[str] | None) -> Sweep:
    """What would be removed under ``root`` on the host (nothing is changed); links are never followed."""
    result = Sweep(root)
    try:
        top = t.lstat(root.rstrip("/") or "/")
    except OSError:
        result.skipped.append({"path": root, "reason": "root does not exist"})
        return result
    if not top.is_dir:
        result.skipped.append({"path": root, "reason": "root is not a directory (a symlink is never followed)"})
        return result
    pending = [top.path]
    while pending:
        for entry in _listdir(t, pending.pop()):
            if entry.is_link:
                result.skipped.append({"path": entry.path, "reason": "symlink (never followed, never removed)"})
            elif entry.is_dir:
                pending.append(entry.path)
            elif entry.is_file and now - entry.mtime > older_than_s:
                if open_now is None:
                    result.skipped.append({"path": entry.path, "reason": UNREADABLE_OPEN_FILES})
                elif entry.path in open_now:
                    result.skipped.append({"path": entry.path, "reason": "open by a process"})
                else:
                    result.candidates.append((entry.path, entry.size, entry))
    return result


def remove(t: Transport, swept: Sweep) -> None:
    still_open = open_paths(t)
    for _, _, entry in swept.candidates:
        if still_open is None or entry.path in still_open or not unchanged(t, entry):
            swept.skipped.append({"path": entry.path, "reason": "open, changed since the scan, or open files "
                                  "unreadable; kept"})
            continue
        try:
            t.remove(entry.path)
        except OSError as exc:
            swept.failed.append({"path": entry.path, "error": f"{type(exc).__name__}: {exc}"})
            continue
        swept.deleted += 1
        swept.deleted_bytes += entry.size
