"""Report storage on local disk (``file://``) or S3 (``s3://bucket/prefix``).

Layout: ``<root>/<dag_id>/<run_id>/report.json|report.md`` and
``<root>/<dag_id>/<run_id>/parts/<task>[.<map_index>].try<N>.json`` (one per task try).
Every object is written once and never rewritten: a second write of the same name (a
retried report task) goes to ``attempts/<name>.<n>`` instead, and readers take the
newest attempt.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

if TYPE_CHECKING:
    from mercenary_maintenance.config import MaintenanceConfig

_ATTEMPT = re.compile(r"^(?P<name>.+)\.(?P<n>\d+)$")
_RUN_STAMP = re.compile(r"__(?P<ts>\d{4}-\d{2}-\d{2}T[^/]+)$")


class AlreadyExists(Exception):
    pass


class Backend(Protocol):
    def put_new(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def list(self, prefix: str) -> list[str]: ...
    def location(self, key: str) -> str: ...


class FileBackend:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put_new(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("xb") as fh:
                fh.write(data)
        except FileExistsError:
            raise AlreadyExists(key) from None

    def get(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())

    def location(self, key: str) -> str:
        return str(self.root / key)


class S3Backend:
    def __init__(self, client: Any, bucket: str, prefix: str, extra_args: dict[str, str] | None = None) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")
        self.extra_args = extra_args or {}  # e.g. server-side encryption

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_new(self, key: str, data: bytes) -> None:
        from botocore.exceptions import ClientError

        try:
            # Conditional write: S3 refuses to replace an existing object.
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*",
                                   **self.extra_args)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise AlreadyExists(key) from None
            raise

    def get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def list(self, prefix: str) -> list[str]:
        full = self._key(prefix)
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        strip = len(self.prefix) + 1 if self.prefix else 0
        return sorted(k[strip:] for k in keys)

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"


def run_time(run_id: str) -> datetime | None:
    """The timestamp Airflow puts in generated run ids (``manual__2026-…``), if any.

    >>> run_time("scheduled__2026-03-01T01:00:00+00:00").isoformat()
    '2026-03-01T01:00:00+00:00'
    >>> run_time("my-run") is None
    True
    """
    match = _RUN_STAMP.search(run_id)
    if not match:
        return None
    try:
        return datetime.fromisoformat(match["ts"])
    except ValueError:
        return None



class ReportStore:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    # -- write-once primitives ---------------------------------------------------
    def write_once(self, key: str, data: bytes) -> str:
        """Write ``key``; if it exists, write the next free ``attempts/`` name. Returns the location."""
        try:
            self.backend.put_new(key, data)
            return self.backend.location(key)
        except AlreadyExists:
            pass
        folder, _, name = key.rpartition("/")
        for n in range(2, 1000):
            attempt = f"{folder}/attempts/{name}.{n}"
            try:
                self.backend.put_new(attempt, data)
                return self.backend.location(attempt)
            except AlreadyExists:
                continue
        raise RuntimeError(f"too many attempts for {key}")

    def read_latest(self, key: str) -> bytes | None:
        folder, _, name = key.rpartition("/")
        best: tuple[int, str] | None = None
        for found in self.backend.list(f"{folder}/attempts/"):
            match = _ATTEMPT.match(found.rpartition("/")[2])
            if match and match["name"] == name and (best is None or int(match["n"]) > best[0]):
                best = (int(match["n"]), found)
        return self.backend.get(best[1] if best else key)

    # -- parts (one per task try) --------------------------------------------------
    def put_part(self, dag_id: str, run_id: str, part_name: str, payload: dict[str, Any]) -> str:
        data = json.dumps(payload, sort_keys=True, default=str).encode()
        return self.write_once(f"{dag_id}/{run_id}/parts/{part_name}.json", data)

    def parts(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        out = []
        for key in self.backend.list(f"{dag_id}/{run_id}/parts/"):
            if "/attempts/" in key or not key.endswith(".json"):
                continue
            raw = self.backend.get(key)
            if raw is not None:
                out.append(json.loads(raw))
        return out

    # -- reports -------------------------------------------------------------------
    def write_report(self, report: dict[str, Any], markdown: str) -> str:
        base = f"{report['dag_id']}/{report['run_id']}"
        location = self.write_once(f"{base}/report.json", json.dumps(report, indent=2, default=str).encode())
        self.write_once(f"{base}/report.md", markdown.encode())
        return location

    def read_report(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        raw = self.read_latest(f"{dag_id}/{run_id}/report.json")
        return json.loads(raw) if raw is not None else None

    def dag_ids(self) -> list[str]:
        return sorted({k.split("/", 1)[0] for k in self.backend.list("") if "/" in k})

    def run_ids(self, dag_id: str) -> list[str]:
        return sorted({k.split("/")[1] for k in self.backend.list(f"{dag_id}/") if k.endswith("/report.json")})


def open_store(url: str, s3_conn_id: str | None = None, client: Any = None,
               extra_args: dict[str, str] | None = None) -> ReportStore:
    """A store for ``url``; S3 uses the amazon provider's hook on ``s3_conn_id``."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return ReportStore(FileBackend(Path(parsed.path)))
    if parsed.scheme == "s3":
        if client is None:
            from mercenary_maintenance.adapters import s3

            client = s3.client(s3_conn_id)
        return ReportStore(S3Backend(client, parsed.netloc, parsed.path, extra_args))
    raise ValueError(f"reports.url: unsupported scheme {parsed.scheme!r}")


def store_for(cfg: MaintenanceConfig, url: str | None = None) -> ReportStore:
    """The configured report store (``reports.url``), with the backups' S3 connection and
    encryption at rest (reports quote queries and object names)."""
    from mercenary_maintenance.backups.encryption import upload_args

    return open_store(url or cfg.reports.url, cfg.backups.conn_id, extra_args=upload_args(cfg.backups))
