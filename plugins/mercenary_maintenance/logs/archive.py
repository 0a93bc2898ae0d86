"""``logs.archive``: compress old log files, upload, verify by reading back, only then delete.

Per file: skip unless regular, older than ``archive_after_days``, quiet (not modified within
``quiet_minutes``, not open by a process); compress with zstd while hashing; upload under a
deterministic key with sha256 in the metadata (or find it already there from an earlier try);
read the object back (size, sha256); delete the local file only if it is still exactly the
file that was hashed. A file whose upload was not verified is never deleted.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from mercenary_maintenance.config import LogSet
from mercenary_maintenance.logs import files, s3

log = logging.getLogger(__name__)
MAX_LISTED = 50


@dataclass
class Tally:
    """What happened to a set's files (the action's details)."""

    archived: int = 0
    already_archived: int = 0
    deleted: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    recent: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append({"path": path, "reason": reason})

    def details(self) -> dict[str, Any]:
        return {"archived": self.archived, "already_archived": self.already_archived, "deleted": self.deleted,
                "bytes_in": self.bytes_in, "bytes_out": self.bytes_out, "recent_files_kept": self.recent,
                "skipped": self.skipped[:MAX_LISTED], "skipped_count": len(self.skipped),
                "failed": self.failed[:MAX_LISTED], "failed_count": len(self.failed),
                "keys": self.keys[:MAX_LISTED]}


@dataclass(frozen=True)
class Plan:
    bucket: str
    level: int
    quiet_s: float
    delete_local: bool
    open_paths: frozenset[str]
    extra_args: dict[str, str] = field(default_factory=dict)  # upload arguments (encryption at rest)


def archive_file(client: Any, plan: Plan, log_set: LogSet, base: str, path: str, tally: Tally, staging: str) -> None:
    st = os.lstat(path)
    now = time.time()  # per file: a long run must not judge late files by its start time
    if now - st.st_mtime < log_set.archive_after_days * 86400:
        tally.recent += 1
        return
    reason = files.busy_reason(st, path, now, plan.quiet_s, plan.open_paths)
    if reason:
        tally.skip(path, reason)
        return
    before = files.FileState.of(st)
    packed = s3.compress(path, os.path.join(staging, "part.zst"), plan.level)
    if files.FileState.of(os.lstat(path)) != before or packed.source_size != before.size:
        tally.skip(path, "changed while being compressed")
        return
    key = s3.object_key(log_set.name, base, path, st.st_mtime, packed.source_sha256)
    if not _already_there(client, plan.bucket, key, packed.source_sha256):
        s3.upload(client, plan.bucket, key, packed, plan.extra_args)
        problem = s3.verify(client, plan.bucket, key, packed.sha256, packed.size, packed.source_sha256)
        if problem:
            tally.failed.append({"path": path, "key": key, "error": f"verification failed: {problem}"})
            return
        tally.archived += 1
        tally.bytes_in += packed.source_size
        tally.bytes_out += packed.size
    else:
        tally.already_archived += 1
    tally.keys.append(key)
    if not plan.delete_local:
        return
    # The very file we hashed, unchanged since, still reached without a symlink: only then
    # is the local copy redundant.
    if files.symlink_below(path, base) is not None:
        tally.skip(path, "a directory on its path became a symlink; kept")
        return
    if files.FileState.of(os.lstat(path)) != before:
        tally.skip(path, "changed after upload; kept (next run archives the new content)")
        return
    delete_local(path)
    tally.deleted += 1


def delete_local(path: str) -> None:
    os.unlink(path)


def _already_there(client: Any, bucket: str, key: str, source_sha256: str) -> bool:
    """An earlier try uploaded this content and it reads back intact (a retry neither duplicates
    nor trusts an unverified object: a broken one is uploaded again under the same key)."""
    meta = s3.head(client, bucket, key)
    if meta is None or (meta.get("Metadata") or {}).get("source-sha256") != source_sha256:
        return False
    metadata = meta["Metadata"]
    try:
        size = int(metadata.get("size", -1))
    except ValueError:
        return False
    return s3.verify(client, bucket, key, str(metadata.get("sha256")), size, source_sha256) is None


def archive_set(client: Any, plan: Plan, log_set: LogSet) -> Tally:
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="mm-logs-") as staging:
        for pattern in log_set.paths:
            base, paths = files.expand(pattern)
            for path in paths:
                try:
                    archive_file(client, plan, log_set, base, path, tally, staging)
                except Exception as exc:  # recorded per file; the action fails at the end
                    log.exception("archiving %s failed", path)
                    tally.failed.append({"path": path, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
    return tally
