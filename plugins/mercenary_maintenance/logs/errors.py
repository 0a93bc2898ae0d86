"""``logs.errors`` (daily): the plan's "review system logs for errors", done by the machine.

For each set of ``logs.error_scan`` the files are read **from where the last run stopped**
(offset and inode per file, kept beside the reports), so every line is counted once:

* a file that grew is read from the saved offset;
* a file whose inode is new appeared since the last run (or replaced a rotated one) and is
  read from its start; the rotated file — same inode, now under another name in the same
  directory — is read from its saved offset to its end first, so lines written just before
  the rotation are not lost;
* a file shorter than its offset was truncated (``copytruncate``) and is read from the start.

The first run of a set takes a baseline (offsets at the ends, nothing counted). Error lines
are ERROR/FATAL/PANIC/CRITICAL, Python tracebacks and HTTP 5xx; they are grouped by
signature (numbers, hex/UUID ids and quoted values normalized away) and the top signatures
are reported with one example each, secrets redacted.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.findings import Finding, Threshold, measured
from mercenary_maintenance.hosts import LocalTransport
from mercenary_maintenance.hosts import expand as host_expand
from mercenary_maintenance.logs.files import expand
from mercenary_maintenance.report.state import keeper
from mercenary_maintenance.runner import mask

if TYPE_CHECKING:
    from mercenary_maintenance.config import ErrorScanSet
    from mercenary_maintenance.hosts import Transport
    from mercenary_maintenance.steps import Step

CHECK = "logs.errors"
TOP = 10
_ERROR = re.compile(
    r"\b(?:ERROR|FATAL|PANIC|CRITICAL)\b|Traceback \(most recent call last\)"
    r"|HTTP/\d(?:\.\d)?\"\s+5\d\d\b|\bstatus[=:]\s*5\d\d\b"
)
_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|authorization)(\s*[=:]\s*|\s+)(\S+)")
_STAMP = re.compile(r"^\s*\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d| ?[A-Z]{3,4})?\]?\s*")
_NORMALIZE = (
    (re.compile(r"'[^']*'|\"[^\"]*\""), "?"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"\d+(?:\.\d+)*"), "N"),
)


def redact(line: str) -> str:
    """Secrets out of a quoted line: URI passwords (``runner.mask``) and ``password=…``-style values.

    >>> redact("FATAL: login failed password=hunter2 for postgres://app:s3cret@db/x")
    'FATAL: login failed password=*** for postgres://app:***@db/x'
    """
    return _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}***", mask(line))


def signature(line: str) -> str:
    """
    >>> signature('2026-01-02 03:04:05 UTC [123] ERROR: duplicate key value "k_9" id=42 req 9f1c2a3b4d5e6f70')
    '[N] ERROR: duplicate key value ? id=N req <hex>'
    """
    text = _STAMP.sub("", line.strip())
    for pattern, repl in _NORMALIZE:
        text = pattern.sub(repl, text)
    return text[:200]


def is_error(line: str) -> bool:
    return bool(_ERROR.search(line))


@dataclass
class Scan:
    lines: int = 0
    errors: int = 0
    signatures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    bytes_read: int = 0
    bytes_skipped: int = 0
    events: list[str] = field(default_factory=list)  # rotation/truncation notes

    def feed(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.lines += 1
            if is_error(line):
                self.errors += 1
                sig = signature(line)
                self.signatures[sig] += 1
                self.examples.setdefault(sig, redact(line.strip())[:300])


def _read(path: str, start: int, end: int, max_bytes: int, scan: Scan) -> None:
    """Feed the complete lines of ``path`` between ``start`` and ``end`` (at most ``max_bytes``: the newest)."""
    if end - start > max_bytes:
        scan.bytes_skipped += end - start - max_bytes
        scan.events.append(f"{path}: {end - start - max_bytes} bytes skipped (more than {max_bytes} since last run)")
        start = end - max_bytes
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    scan.bytes_read += len(data)
    scan.feed(data.decode("utf-8", "replace").splitlines())


def _key(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}"


def _find_inode(directory: str, key: str) -> str | None:
    """A rotated file: the same inode under another name in the same directory."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return None
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and _key(entry.stat(follow_symlinks=False)) == key:
                return entry.path
        except OSError:
            continue
    return None


def _end_of_complete_lines(path: str, size: int) -> int:
    """Offsets stop after the last newline: a half-written line is read whole next time."""
    if size == 0:
        return 0
    with open(path, "rb") as fh:
        back = min(size, 65536)
        fh.seek(size - back)
        tail = fh.read(back)
    cut = tail.rfind(b"\n")
    return size - back + cut + 1 if cut >= 0 else size - back  # no newline in the tail: wait for it


def scan_set(paths: Iterable[str], state: dict[str, Any] | None, max_bytes: int) -> tuple[Scan, dict[str, Any]]:
    """Scan the files of one set since ``state``; return the scan and the new state."""
    scan = Scan()
    files: dict[str, tuple[str, os.stat_result]] = {}
    for pattern in paths:
        for path in expand(pattern)[1]:
            st = os.stat(path, follow_symlinks=False)
            files[_key(st)] = (path, st)
    new: dict[str, Any] = {}
    baseline = state is None
    old: dict[str, Any] = (state or {}).get("files", {})
    for key, (path, st) in sorted(files.items(), key=lambda kv: kv[1][0]):
        end = _end_of_complete_lines(path, st.st_size)
        if baseline:
            new[key] = {"path": path, "offset": end}
            continue
        saved = old.get(key)
        start = int(saved["offset"]) if saved else 0
        if saved and st.st_size < start:
            scan.events.append(f"{path}: truncated (size {st.st_size} < offset {start}), read from the start")
            start = 0
        elif saved is None and any(v.get("path") == path for v in old.values()):
            scan.events.append(f"{path}: new file since the last run (rotated), read from the start")
        if end > start:
            _read(path, start, end, max_bytes, scan)
        new[key] = {"path": path, "offset": max(end, start)}
    if not baseline:
        for key, saved in old.items():
            if key in files:
                continue
            rotated = _find_inode(str(Path(saved["path"]).parent), key)
            if rotated is None:
                continue  # deleted or moved away (compressed): nothing more can be read
            size = os.stat(rotated, follow_symlinks=False).st_size
            if size > int(saved["offset"]):
                scan.events.append(f"{saved['path']}: rotated to {rotated}, its last lines read")
                _read(rotated, int(saved["offset"]), size, max_bytes, scan)
    return scan, {"files": new}


def errors_finding(name: str, scan: Scan | None, threshold: Threshold, files: int) -> Finding:
    if scan is None:
        return measured(CHECK, name, 0, threshold, f"first scan of {files} file(s): baseline taken, errors from "
                        "now on are counted", {"baseline": True, "files": files})
    common = scan.signatures.most_common(TOP)
    top: list[dict[str, Any]] = [{"signature": sig, "count": n, "example": scan.examples[sig]} for sig, n in common]
    head = "; ".join(f"{n}× {sig[:80]}" for sig, n in common[:3])
    message = (f"{scan.errors} error line(s) of {scan.lines} since the last run" + (f": {head}" if head else ""))
    return measured(CHECK, name, scan.errors, threshold, message, {
        "files": files, "lines": scan.lines, "top": top, "bytes_read": scan.bytes_read,
        "bytes_skipped": scan.bytes_skipped, "events": scan.events[:20]})


def _file_ids(t: Transport, paths: list[str]) -> dict[str, str]:
    """path → ``dev:inode`` on the host (``stat -c``), to tell a rotated file from one that grew."""
    if not paths:
        return {}
    result = t.run("file_ids", *paths, check=False)
    ids: dict[str, str] = {}
    for line in result.stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4:
            ids[parts[3]] = parts[0]
    return ids


def scan_host_set(t: Transport, paths: Iterable[str], state: dict[str, Any] | None,
                  max_bytes: int) -> tuple[Scan, dict[str, Any]]:
    """The files of one set on a host, each read from where the last run stopped (offset and inode per path);
    a new inode or a shorter file is read from its start. The first run takes a baseline."""

    scan = Scan()
    entries = {e.path: e for pattern in paths for e in host_expand(t, pattern)[1]}
    ids = _file_ids(t, sorted(entries))
    old: dict[str, Any] = (state or {}).get("files", {})
    new: dict[str, Any] = {}
    for path, entry in sorted(entries.items()):
        inode = ids.get(path, "?")
        saved = old.get(path)
        start = 0
        if state is None:
            start = entry.size
        elif saved and saved.get("inode") == inode and entry.size >= int(saved["offset"]):
            start = int(saved["offset"])
        elif saved and saved.get("inode") == inode:
            scan.events.append(f"{path}: truncated (size {entry.size} < offset {saved['offset']}), read from the start")
        elif saved:
            scan.events.append(f"{path}: new file since the last run (rotated), read from the start")
        offset = start
        if entry.size > start and state is not None:
            offset = _read_host(t, path, start, entry.size, max_bytes, scan)
        new[path] = {"inode": inode, "offset": offset}
    return scan, {"files": new}


def _read_host(t: Transport, path: str, start: int, end: int, max_bytes: int, scan: Scan) -> int:
    """Feed the complete lines between ``start`` and ``end``; the offset after the last complete line."""
    if end - start > max_bytes:
        scan.bytes_skipped += end - start - max_bytes
        scan.events.append(f"{path}: {end - start - max_bytes} bytes skipped (more than {max_bytes} since last run)")
        start = end - max_bytes
    with t.open(path) as fh:
        fh.seek(start)
        data = fh.read(end - start)
    cut = data.rfind(b"\n")
    if cut < 0:
        return start  # no complete line yet: read whole next time
    data = data[:cut + 1]
    scan.bytes_read += len(data)
    scan.feed(data.decode("utf-8", "replace").splitlines())
    return start + len(data)


def _state_name(set_name: str, host: str, implicit: bool) -> str:
    base = f"logs_errors_{set_name}"
    return base if implicit else f"{base}.{re.sub(r'[^a-z0-9_.-]', '-', host.lower())}"


def scan_finding(step: Step, item: ErrorScanSet, name: str, target: str, implicit: bool) -> Finding:
    """``logs.errors`` of one set on host ``name``: its files read since the saved offsets (the worker's
    through ``os``, another host's through its transport), the new offsets saved."""
    state = keeper(step.cfg, _state_name(item.name, name, implicit))
    previous = state.load()
    t = step.host(name)
    if isinstance(t, LocalTransport):
        scan, new = scan_set(item.paths, previous, item.max_bytes)
    else:
        scan, new = scan_host_set(t, item.paths, previous, item.max_bytes)
    state.save(new)
    threshold = Threshold(item.warning, item.critical)
    found = errors_finding(target, None if previous is None else scan, threshold, len(new["files"]))
    found.details["host"] = name
    return found
