"""Report storage on local disk (``file://``) or S3 (``s3://bucket/prefix``).

Layout: ``<root>/<dag_id>/<run_id>/report.json|report.md|summary.json``,
``<root>/_index/<finished stamp>__<dag_id>__<hash>.json`` (the summaries' journal, see
``report/summary.py``) and
``<root>/<dag_id>/<run_id>/parts/<task>[.<map_index>].try<N>.json`` (one per task try).
``dag_id`` and ``run_id`` are path components only through :func:`run_prefix` (sanitized:
a run id is chosen by whoever triggers the run), and every part and report is passed
through :func:`~mercenary_maintenance.redact.mask` before it is stored.
Every object is written once and never rewritten: a second write of the same name (a
retried report task) goes to ``attempts/<name>.<n>`` instead, and readers take the
newest attempt.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

if TYPE_CHECKING:
    from mercenary_maintenance.config import MaintenanceConfig, TimeoutsConfig

from mercenary_maintenance.redact import mask, mask_value
from mercenary_maintenance.safepath import safe_component

_ATTEMPT = re.compile(r"^(?P<name>.+)\.(?P<n>\d+)$")
_RUN_STAMP = re.compile(r"__(?P<ts>\d{4}-\d{2}-\d{2}T[^/]+)$")


class AlreadyExists(Exception):
    pass


class Backend(Protocol):
    def put_new(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def list_after(self, prefix: str, start_after: str) -> list[str]: ...
    def list(self, prefix: str) -> list[str]: ...
    def location(self, key: str) -> str: ...


def keys_after(keys: list[str], start_after: str) -> list[str]:
    return [k for k in keys if k > start_after]


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

    def list_after(self, prefix: str, start_after: str) -> list[str]:
        """Keys under a flat folder ``prefix`` sorting after ``start_after`` (one directory read)."""
        base = self.root / prefix
        if not base.is_dir():
            return []
        return keys_after(sorted(prefix + name for name in os.listdir(base)), start_after)

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

    def list_after(self, prefix: str, start_after: str) -> list[str]:
        """Keys under ``prefix`` sorting after ``start_after``: S3 returns only those (StartAfter)."""
        full, start = self._key(prefix), self._key(start_after) if start_after else ""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full, **({"StartAfter": start} if start else {})):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        strip = len(self.prefix) + 1 if self.prefix else 0
        return sorted(k[strip:] for k in keys)

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


def run_prefix(dag_id: str, run_id: str) -> str:
    """``<dag_id>/<run_id>`` with both made safe path components (see :func:`safe_component`).

    >>> run_prefix("maintenance_daily", "manual__2026-01-01T00:00:00+00:00")
    'maintenance_daily/manual__2026-01-01T00:00:00+00:00'
    >>> "/" in run_prefix("d", "../../x").split("/", 1)[1]
    False
    """
    return f"{safe_component(dag_id)}/{safe_component(run_id)}"


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
        data = json.dumps(mask_value(payload), sort_keys=True, default=str).encode()
        return self.write_once(f"{run_prefix(dag_id, run_id)}/parts/{safe_component(part_name)}.json", data)

    def parts(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        out = []
        for key in self.backend.list(f"{run_prefix(dag_id, run_id)}/parts/"):
            if "/attempts/" in key or not key.endswith(".json"):
                continue
            raw = self.backend.get(key)
            if raw is not None:
                out.append(json.loads(raw))
        return out

    # -- reports -------------------------------------------------------------------
    def write_report(self, report: dict[str, Any], markdown: str) -> str:
        from mercenary_maintenance.report.summary import index_key, summarize

        base = run_prefix(str(report["dag_id"]), str(report["run_id"]))
        masked = mask_value(report)
        location = self.write_once(f"{base}/report.json", json.dumps(masked, indent=2, default=str).encode())
        self.write_once(f"{base}/report.md", mask(markdown).encode())
        # The console's index (console/index.py): the summary beside the report, then its journal entry.
        summary = json.dumps(summarize(masked), default=str).encode()
        self.write_once(f"{base}/summary.json", summary)
        self.write_once(index_key(masked), summary)
        return location

    def read_summary(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        """The run's summary.json, or one made from its report (runs written before summaries existed)."""
        raw = self.read_latest(f"{run_prefix(dag_id, run_id)}/summary.json")
        if raw is not None:
            return dict(json.loads(raw))
        report = self.read_report(dag_id, run_id)
        if report is None:
            return None
        from mercenary_maintenance.report.summary import summarize

        return summarize(report)

    def read_report(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        raw = self.read_latest(f"{run_prefix(dag_id, run_id)}/report.json")
        return json.loads(raw) if raw is not None else None

    def previous_report(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        """The newest report of ``dag_id`` from a run before ``run_id`` (by the time in the run id)."""
        current = run_time(run_id)
        earlier = []
        for other in self.run_ids(dag_id):
            when = run_time(other)
            if other != run_id and when is not None and (current is None or when < current):
                earlier.append((when, other))
        for _, other in sorted(earlier, reverse=True):
            report = self.read_report(dag_id, other)
            if report is not None:
                return report
        return None

    def dag_ids(self) -> list[str]:
        return sorted({k.split("/", 1)[0] for k in self.backend.list("") if "/" in k and not k.startswith("_")})

    def run_ids(self, dag_id: str) -> list[str]:
        return sorted({k.split("/")[1] for k in self.backend.list(f"{safe_component(dag_id)}/")
                       if k.endswith("/report.json")})


def open_store(url: str, s3_conn_id: str | None = None, client: Any = None,
               extra_args: dict[str, str] | None = None, timeouts: TimeoutsConfig | None = None) -> ReportStore:
    """A store for ``url``; S3 uses ``client``, or the amazon provider's hook on ``s3_conn_id``
    bounded by ``timeouts`` (the caller's validated config: nothing here reads the config file)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return ReportStore(FileBackend(Path(parsed.path)))
    if parsed.scheme == "s3":
        if client is None:
            from mercenary_maintenance.adapters import s3

            if timeouts is None:
                raise ValueError("an s3:// report store needs a client or the config's timeouts")
            client = s3.client(s3_conn_id, timeouts=timeouts)
        return ReportStore(S3Backend(client, parsed.netloc, parsed.path, extra_args))
    raise ValueError(f"reports.url: unsupported scheme {parsed.scheme!r}")


def store_for(cfg: MaintenanceConfig, url: str | None = None) -> ReportStore:
    """The configured report store (``reports.url``), with the backups' S3 connection and
    encryption at rest (reports quote queries and object names)."""
    from mercenary_maintenance.adapters.s3 import upload_args

    return open_store(url or cfg.reports.url, cfg.backups.conn_id, extra_args=upload_args(cfg.backups),
                      timeouts=cfg.timeouts)
