"""``security.failed_logins`` of a host (target ``<host>:sshd``): failed SSH logins since the last run.

Read on the host through its transport: the systemd journal (``journalctl -t sshd --since <last run>``)
when the host keeps one, else the first readable file of ``security.auth_logs`` from the offset the last
run stopped at (per inode: a rotated log is read from its start). The first run of a host counts the
last ``security.failed_logins_hours`` of the journal, or the auth log's last ``log_tail_bytes``. The
state (journal time or file offset) is kept beside the reports, per host.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mercenary_maintenance.config import SecurityConfig
from mercenary_maintenance.findings import Finding, measured
from mercenary_maintenance.hosts import Transport, unread_on_the_worker

CHECK = "security.failed_logins"
_FAILED = re.compile(r"Failed (?P<method>[\w/-]+) for (?:invalid user )?(?P<user>\S*) from (?P<ip>[\w.:]+)")
_INVALID = re.compile(r"Invalid user (?P<user>\S*) from (?P<ip>[\w.:]+)")


@dataclass
class SshFailures:
    count: int = 0
    by_user: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)


def count_sshd_failures(lines: Iterable[str]) -> SshFailures:
    """Failed SSH authentications (``Failed password/publickey … for [invalid user] U from IP``); an
    invalid user that never got to try a method counts once too.

    >>> r = count_sshd_failures(["sshd[9]: Failed password for root from 10.0.0.1 port 2 ssh2",
    ...                          "sshd[9]: Invalid user bob from 10.0.0.2 port 3",
    ...                          "sshd[9]: Failed password for invalid user bob from 10.0.0.2 port 3 ssh2",
    ...                          "sshd[9]: Invalid user eve from 10.0.0.3 port 4",
    ...                          "sshd[9]: Accepted publickey for root from 10.0.0.1 port 5 ssh2"])
    >>> r.count, dict(r.by_user), dict(r.by_source)
    (3, {'root': 1, 'bob': 1, 'eve': 1}, {'10.0.0.1': 1, '10.0.0.2': 1, '10.0.0.3': 1})
    """
    result = SshFailures()
    failed_users: set[tuple[str, str]] = set()
    invalid: list[tuple[str, str]] = []
    for line in lines:
        if match := _FAILED.search(line):
            failed_users.add((match["user"], match["ip"]))
            result.count += 1
            result.by_user[match["user"]] += 1
            result.by_source[match["ip"]] += 1
        elif match := _INVALID.search(line):
            invalid.append((match["user"], match["ip"]))
    for user, ip in invalid:
        if (user, ip) not in failed_users:
            result.count += 1
            result.by_user[user] += 1
            result.by_source[ip] += 1
    return result


def journal_lines(t: Transport, since: datetime) -> list[str] | None:
    """sshd's journal lines since ``since``; ``None`` when the host keeps no journal."""
    result = t.run("journal_sshd", since.strftime("%Y-%m-%d %H:%M:%S UTC"), check=False)
    text = result.stdout + result.stderr
    if result.returncode != 0 or "No journal files were found" in text:
        return None
    return result.stdout.splitlines()


def _inode(t: Transport, path: str) -> str:
    out = t.run("file_ids", path, check=False).stdout.split(" ", 1)
    return out[0] if out and out[0] else "?"


def auth_log_lines(t: Transport, sec: SecurityConfig, saved: dict[str, Any]) -> tuple[str, list[str], dict[str, Any]]:
    """(file, new lines, new state) of the first readable ``security.auth_logs`` file."""
    for path in sec.auth_logs:
        try:
            size = t.lstat(path).size
            fh = t.open(path)
        except OSError:
            continue
        inode = _inode(t, path)
        start = int(saved["offset"]) if saved.get("path") == path and saved.get("inode") == inode else -1
        if start < 0 or start > size:  # first run, rotated or truncated: the tail / the whole new file
            start = max(0, size - sec.log_tail_bytes) if not saved else 0
        with fh:
            fh.seek(start)
            data = fh.read(size - start)
        cut = data.rfind(b"\n") + 1
        return path, data[:cut].decode("utf-8", "replace").splitlines(), {"path": path, "inode": inode,
                                                                          "offset": start + cut}
    raise FileNotFoundError(f"no journal, and none of security.auth_logs {sec.auth_logs} is readable on {t.host.name}")


def failures_finding(host: str, source: str, failures: SshFailures, since: str, sec: SecurityConfig) -> Finding:
    top = ", ".join(f"{user} ({n})" for user, n in failures.by_user.most_common(5)) or "none"
    return measured(CHECK, f"{host}:sshd", failures.count, sec.failed_logins.as_threshold(),
                    f"{failures.count} failed SSH login(s) on {host} since {since} ({source}); users: {top}",
                    {"host": host, "source": source, "since": since,
                     "by_user": dict(failures.by_user.most_common(20)),
                     "by_source": dict(failures.by_source.most_common(20))})


def check_host(t: Transport, sec: SecurityConfig, state: dict[str, Any] | None,
               now: datetime) -> tuple[Finding, dict[str, Any]]:
    """The finding and the state to keep for the next run."""
    host = t.host.name
    previous = state or {}
    since = (datetime.fromisoformat(previous["journal_since"]) if previous.get("journal_since")
             else now - timedelta(hours=sec.failed_logins_hours))
    lines = journal_lines(t, since)
    if lines is not None:
        failures = count_sshd_failures(lines)
        return (failures_finding(host, "journal", failures, since.isoformat(timespec="seconds"), sec),
                {"journal_since": now.isoformat()})
    try:
        path, lines, new = auth_log_lines(t, sec, previous.get("auth_log") or {})
    except FileNotFoundError as exc:
        return unread_on_the_worker(t, CHECK, f"{host}:sshd", exc), previous
    label = ("the last run" if previous.get("auth_log")
             else f"the first look (the file's last {sec.log_tail_bytes / 2**20:g} MiB at most)")
    return failures_finding(host, path, count_sshd_failures(lines), label, sec), {"auth_log": new}
