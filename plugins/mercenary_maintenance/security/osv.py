"""OSV advisories (osv.dev's schema, the one pip-audit, osv-scanner and GitHub use): loading
and matching against pinned package versions.

Records come from a directory (``file://``) or an S3 prefix (``s3://bucket/prefix``) of JSON
files — e.g. the per-ecosystem exports an operator syncs, which is how air-gapped sites work.
Matching follows the OSV schema's evaluation: a version is affected when it is listed in
``versions`` or falls in a range of ``introduced`` / ``fixed`` / ``last_affected`` events,
walked in version order (several introduced/fixed pairs in one range are allowed). PyPI uses
``ECOSYSTEM`` ranges compared with ``packaging`` (PEP 440); npm uses ``SEMVER`` ranges.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from packaging.version import InvalidVersion, Version

from mercenary_maintenance.security.cvss import base_score, rating
from mercenary_maintenance.security.semver import SemVer

SEVERITIES = ("critical", "high", "medium", "low", "unknown")
_GHSA_LEVELS = {"CRITICAL": "critical", "HIGH": "high", "MODERATE": "medium", "MEDIUM": "medium", "LOW": "low"}


def normalize(ecosystem: str, name: str) -> str:
    """PyPI names compare PEP 503-normalized; npm names as written.

    >>> normalize("PyPI", "Jinja2"), normalize("PyPI", "zope.interface"), normalize("npm", "@Babel/core")
    ('jinja2', 'zope-interface', '@Babel/core')
    """
    return re.sub(r"[-_.]+", "-", name).lower() if ecosystem == "PyPI" else name


def parse_version(ecosystem: str, text: str) -> Any:
    """A comparable version; ``"0"`` (OSV's "from the beginning") is the smallest."""
    if ecosystem == "PyPI":
        return Version(text)
    return SemVer(text)


@dataclass(frozen=True)
class Match:
    """One advisory affecting one pinned package."""

    id: str
    aliases: tuple[str, ...]
    ecosystem: str
    package: str
    version: str
    severity: str
    score: float | None
    fixed: str | None
    summary: str
    published: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "aliases": list(self.aliases), "package": self.package, "version": self.version,
                "severity": self.severity, "cvss": self.score, "fixed": self.fixed, "summary": self.summary,
                "published": self.published}


def severity_of(record: Mapping[str, Any]) -> tuple[str, float | None]:
    """(rating, CVSS score) from ``database_specific.severity`` (GHSA) or a CVSS v3 vector.

    >>> severity_of({"database_specific": {"severity": "MODERATE"}})
    ('medium', None)
    >>> severity_of({"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]})
    ('critical', 9.8)
    >>> severity_of({})
    ('unknown', None)
    """
    score: float | None = None
    for item in record.get("severity") or []:
        if str(item.get("type", "")).startswith("CVSS_V3"):
            try:
                score = base_score(str(item["score"]))
            except (ValueError, KeyError):
                continue
            break
    level = _GHSA_LEVELS.get(str((record.get("database_specific") or {}).get("severity", "")).upper())
    if level is None and score is not None:
        level = rating(score)
        level = "low" if level == "none" else level
    return level or "unknown", score


def _in_range(ecosystem: str, version: Any, events: list[Mapping[str, str]]) -> tuple[bool, str | None]:
    """(affected, the first ``fixed`` above ``version``) for one range's events."""
    keyed: list[tuple[Any, int, str, str]] = []
    for event in events:
        for kind, order in (("introduced", 0), ("fixed", 1), ("last_affected", 2), ("limit", 3)):
            if kind in event:
                raw = str(event[kind])
                at = parse_version(ecosystem, "0" if raw == "0" else raw)
                keyed.append((at, order, kind, raw))
    keyed.sort(key=lambda k: (k[0], k[1]))
    affected = False
    for at, _, kind, _raw in keyed:
        if kind == "introduced" and version >= at:
            affected = True
        elif (kind in ("fixed", "limit") and version >= at) or (kind == "last_affected" and version > at):
            affected = False
    fixed = next((raw for at, _, kind, raw in keyed if kind == "fixed" and at > version), None)
    return affected, fixed


def affects(record: Mapping[str, Any], ecosystem: str, name: str, version: str) -> tuple[bool, str | None]:
    """Does ``record`` affect ``name==version``? With the version to upgrade to (or None)."""
    try:
        parsed = parse_version(ecosystem, version)
    except (InvalidVersion, ValueError):
        return False, None
    wanted = normalize(ecosystem, name)
    hit, fixes = False, []
    for entry in record.get("affected") or []:
        package = entry.get("package") or {}
        if package.get("ecosystem") != ecosystem or normalize(ecosystem, str(package.get("name", ""))) != wanted:
            continue
        if version in [str(v) for v in entry.get("versions") or []]:
            hit = True
        for rng in entry.get("ranges") or []:
            if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
                continue  # GIT ranges name commits, not released versions
            try:
                inside, fixed = _in_range(ecosystem, parsed, list(rng.get("events") or []))
            except (InvalidVersion, ValueError):
                continue
            if inside:
                hit = True
                if fixed:
                    fixes.append(fixed)
    best = min(fixes, key=lambda f: parse_version(ecosystem, f)) if fixes else None
    return hit, best


@dataclass
class Advisories:
    """OSV records indexed by (ecosystem, normalized package name)."""

    source: str
    records: int = 0
    index: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, record: dict[str, Any]) -> None:
        if "id" not in record or record.get("withdrawn"):
            return
        self.records += 1
        seen: set[tuple[str, str]] = set()
        for entry in record.get("affected") or []:
            package = entry.get("package") or {}
            key = (str(package.get("ecosystem", "")), normalize(str(package.get("ecosystem", "")),
                                                                str(package.get("name", ""))))
            if key not in seen:
                seen.add(key)
                self.index.setdefault(key, []).append(record)

    def match(self, ecosystem: str, name: str, version: str) -> list[Match]:
        out: list[Match] = []
        for record in self.index.get((ecosystem, normalize(ecosystem, name)), []):
            hit, fixed = affects(record, ecosystem, name, version)
            if hit:
                level, score = severity_of(record)
                out.append(Match(str(record["id"]), tuple(record.get("aliases") or ()), ecosystem, name, version,
                                 level, score, fixed, str(record.get("summary") or record.get("details", ""))[:200],
                                 record.get("published")))
        return sorted(out, key=lambda m: m.id)


def _records(data: Any) -> Iterator[dict[str, Any]]:
    """A file holds one record or a list of them."""
    if isinstance(data, dict):
        yield data
    elif isinstance(data, list):
        yield from (r for r in data if isinstance(r, dict))


def load_dir(root: Path) -> Advisories:
    if not root.is_dir():
        raise FileNotFoundError(f"security.advisories: {root} is not a directory")
    found = Advisories(f"file://{root}")
    for path in sorted(root.rglob("*.json")):
        try:
            for record in _records(json.loads(path.read_text(encoding="utf-8"))):
                found.add(record)
        except (OSError, ValueError) as exc:
            found.problems.append(f"{path.name}: {type(exc).__name__}: {exc}")
    return found


def load_s3(client: Any, bucket: str, prefix: str) -> Advisories:
    found = Advisories(f"s3://{bucket}/{prefix}")
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith(".json"):
                continue
            body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            try:
                for record in _records(json.loads(body)):
                    found.add(record)
            except ValueError as exc:
                found.problems.append(f"{obj['Key']}: {exc}")
    return found


def load(url: str, s3_client: Callable[[], Any] | None = None) -> Advisories:
    """Advisories from ``file:///dir`` or ``s3://bucket/prefix``."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return load_dir(Path(parsed.path))
    if parsed.scheme == "s3":
        if s3_client is None:
            raise ValueError("security.advisories on s3:// needs an S3 client")
        return load_s3(s3_client(), parsed.netloc, parsed.path.lstrip("/"))
    raise ValueError(f"security.advisories: unsupported scheme {parsed.scheme!r} (file:// or s3://)")


def count_by_severity(matches: Iterable[Match]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for m in matches:
        counts[m.severity] = counts.get(m.severity, 0) + 1
    return counts
