"""``config.backup`` (daily, per host): the plan's "configuration files: backed up on change, stored in
version control, encrypted at rest".

The files of ``targets.hosts[].config_files`` (globs) are read from the host through its transport and
hashed. When any differs from the last stored version (or one appeared or went), a **new version** is
stored: every file as an S3 object under ``<prefix>/<host>/<stamp>/<path>`` (encrypted at rest as
``backups.server_side_encryption`` asks, sha256 in its metadata, read back and verified) and a
``MANIFEST.json`` beside them (path → sha256, size) written last — a version without its manifest does
not count. With ``backups.config_files.git_url`` set, the same tree is committed to that repository
(``<host>/<path>``) and pushed, each git command bounded by ``git_timeout_seconds``.

The finding lists what changed since the last version (added, changed, removed); a first version is the
baseline.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mercenary_maintenance import runner
from mercenary_maintenance.adapters.s3 import upload_args
from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.hosts import Transport, expand
from mercenary_maintenance.runner import mask

if TYPE_CHECKING:
    from mercenary_maintenance.config import ConfigFilesBackup, MaintenanceConfig

CHECK = "config.backup"
MANIFEST = "MANIFEST.json"
MAX_FILE_BYTES = 4 * 2**20


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        parts = [f"{label}: {', '.join(items[:10])}" for label, items in
                 (("added", self.added), ("changed", self.changed), ("removed", self.removed)) if items]
        return "; ".join(parts)


def compare(before: dict[str, str] | None, now: dict[str, str]) -> Changes:
    """What changed between two {path: sha256} manifests.

    >>> compare({"/a": "1", "/b": "2"}, {"/a": "1", "/b": "3", "/c": "4"}).summary()
    'added: /c; changed: /b'
    """
    old = before or {}
    return Changes(added=sorted(set(now) - set(old)), changed=sorted(p for p in now if p in old and old[p] != now[p]),
                   removed=sorted(set(old) - set(now)))


def read_files(t: Transport, globs: list[str]) -> dict[str, bytes]:
    """Every matching regular file on the host, whole (a file over 4 MB is refused: not a config file)."""
    out: dict[str, bytes] = {}
    for pattern in globs:
        for entry in expand(t, pattern)[1]:
            if entry.size > MAX_FILE_BYTES:
                raise ValueError(f"{entry.path} is {entry.size} bytes: larger than a configuration file should be")
            with t.open(entry.path) as fh:
                out[entry.path] = fh.read()
    return out


def host_prefix(cfg: ConfigFilesBackup, host: str) -> str:
    return f"{cfg.prefix.strip('/')}/{host}/"


def last_manifest(client: Any, bucket: str, prefix: str) -> tuple[str | None, dict[str, Any] | None]:
    """(key, content) of the newest complete version of a host, or (None, None) before the first."""
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(f"/{MANIFEST}")]
    if not keys:
        return None, None
    newest = max(keys)
    return newest, json.loads(client.get_object(Bucket=bucket, Key=newest)["Body"].read())


def store_version(client: Any, bucket: str, prefix: str, contents: dict[str, bytes], extra: dict[str, str],
                  now: datetime) -> str:
    """Upload every file, read each back (sha256), then the manifest; the manifest's key."""
    base = f"{prefix}{now.strftime('%Y%m%dT%H%M%SZ')}/"
    files: dict[str, dict[str, Any]] = {}
    for path, data in sorted(contents.items()):
        digest = hashlib.sha256(data).hexdigest()
        key = base + path.lstrip("/")
        client.put_object(Bucket=bucket, Key=key, Body=data, Metadata={"sha256": digest}, **extra)
        back = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        if hashlib.sha256(back).hexdigest() != digest:
            raise RuntimeError(f"s3://{bucket}/{key} read back with another sha256: version not completed")
        files[path] = {"sha256": digest, "size": len(data), "key": key}
    manifest_key = base + MANIFEST
    body = json.dumps({"files": files, "stored_at": now.isoformat()}, sort_keys=True).encode()
    client.put_object(Bucket=bucket, Key=manifest_key, Body=body, ContentType="application/json", **extra)
    return manifest_key


def _git(args: list[str], cwd: str | None, timeout: float) -> str:

    argv = ["git", "-c", "user.name=mercenary-maintenance", "-c", "user.email=maintenance@localhost", *args]
    if cwd is not None:
        argv = [argv[0], "-C", cwd, *argv[1:]]
    return runner.run(argv, timeout=timeout).stdout.strip()


def commit_to_git(cfg: ConfigFilesBackup, host: str, contents: dict[str, bytes], message: str) -> str | None:
    """Commit the host's files as ``<host>/<path>`` and push; the commit id (None: nothing differed in git)."""
    assert cfg.git_url is not None
    timeout = cfg.git_timeout_seconds
    work = tempfile.mkdtemp(prefix="mm-config-git-")
    try:
        repo = os.path.join(work, "repo")
        _git(["clone", "--quiet", "--depth", "1", cfg.git_url, repo], None, timeout)
        tree = os.path.join(repo, host)
        shutil.rmtree(tree, ignore_errors=True)  # files removed on the host go from git too
        for path, data in contents.items():
            dest = os.path.join(tree, path.lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as fh:
                fh.write(data)
        _git(["add", "-A", "--", host], repo, timeout)
        if not _git(["status", "--porcelain", "--", host], repo, timeout):
            return None
        _git(["commit", "--quiet", "-m", message], repo, timeout)
        _git(["push", "--quiet", "origin", "HEAD"], repo, timeout)
        return _git(["rev-parse", "HEAD"], repo, timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def changes_finding(host: str, changes: Changes, baseline: bool, files: int) -> Finding:
    details: dict[str, Any] = {"added": changes.added, "changed": changes.changed, "removed": changes.removed,
                               "files": files, "baseline": baseline}
    if baseline:
        return Finding(CHECK, host, Severity.OK, f"first version of {files} configuration file(s) on {host}: the "
                       "baseline", value=files, details=details)
    if not changes.any:
        return Finding(CHECK, host, Severity.OK, f"no change in {files} configuration file(s) on {host} since the "
                       "last version", value=0, details=details)
    count = len(changes.added) + len(changes.changed) + len(changes.removed)
    return Finding(CHECK, host, Severity.WARNING, f"{count} configuration file change(s) on {host} since the last "
                   f"version (stored as a new one): {changes.summary()}", value=count, details=details)


def store_changes(cfg: MaintenanceConfig, host: str, state: dict[str, Any], act: Any) -> None:

    files_cfg = cfg.backups.config_files
    extra = upload_args(cfg.backups)
    now = datetime.now(UTC)
    key = store_version(state["client"], cfg.backups.bucket, host_prefix(files_cfg, host), state["contents"], extra,
                        now)
    details: dict[str, Any] = {"manifest": key, "bucket": cfg.backups.bucket,
                               "encryption": extra.get("ServerSideEncryption", "bucket default"),
                               "files": len(state["contents"])}
    message = f"new version s3://{cfg.backups.bucket}/{key} ({len(state['contents'])} file(s), sha256 verified)"
    if files_cfg.git_url:
        summary = state["changes"].summary() or "baseline"
        commit = commit_to_git(files_cfg, host, state["contents"], f"config.backup {host}: {summary}")
        details.update(git_url=mask(files_cfg.git_url), git_commit=commit)
        message += f"; committed {commit[:12]} to git" if commit else "; git already had this content"
    act.done(message, **details)
