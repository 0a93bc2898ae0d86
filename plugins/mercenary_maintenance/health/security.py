"""Security monitoring of the daily run: failed logins and ports that must be closed.

* ``security.failed_logins`` — failed authentications (wrong password, no pg_hba entry,
  unknown role) in a PostgreSQL server log over the last ``security.failed_logins_hours``.
* ``security.open_ports`` — every ``host:port`` of ``security.closed_ports`` refuses TCP
  connections; one that accepts is critical.

The monthly AWS security-group audit is the security area's (:mod:`mercenary_maintenance.security.groups`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mercenary_maintenance.adapters import tcp
from mercenary_maintenance.config import SecurityConfig
from mercenary_maintenance.findings import Finding, Severity, Threshold, measured

FAILED_LOGINS = "security.failed_logins"
OPEN_PORTS = "security.open_ports"

_STAMP = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)(?: (?P<tz>UTC|GMT|[+-]\d\d(?::?\d\d)?))?")
_FAILED = re.compile(
    r"FATAL:\s+(?:password authentication failed for user \"(?P<a>[^\"]*)\""
    r"|no pg_hba\.conf entry for (?:replication connection from )?host \"[^\"]*\", user \"(?P<b>[^\"]*)\""
    r"|role \"(?P<c>[^\"]*)\" does not exist"
    r"|\w+ authentication failed for user \"(?P<d>[^\"]*)\")"
)


@dataclass
class LoginFailures:
    count: int = 0
    by_user: Counter[str] = field(default_factory=Counter)
    undated: int = 0


def _stamp(line: str) -> datetime | None:
    match = _STAMP.match(line)
    if not match:
        return None
    ts = datetime.fromisoformat(match["ts"])
    tz = match["tz"]
    if tz is None:
        return None  # no zone in the prefix: the time cannot be placed
    if tz in ("UTC", "GMT"):
        return ts.replace(tzinfo=UTC)
    return datetime.fromisoformat(f"{match['ts']}{tz}")


def count_failed_logins(lines: Iterable[str], since: datetime) -> LoginFailures:
    """Failed authentications at or after ``since``; lines without a timestamp count (undated).

    >>> r = count_failed_logins(['2026-01-02 10:00:00.1 UTC [7] FATAL:  password authentication failed '
    ...                          'for user "bob"', '2025-01-01 00:00:00 UTC [7] FATAL:  role "x" does not exist'],
    ...                         datetime(2026, 1, 1, tzinfo=UTC))
    >>> r.count, dict(r.by_user)
    (1, {'bob': 1})
    """
    result = LoginFailures()
    for line in lines:
        match = _FAILED.search(line)
        if not match:
            continue
        when = _stamp(line)
        if when is not None and when < since:
            continue
        if when is None:
            result.undated += 1
        result.count += 1
        result.by_user[next(g for g in match.groups() if g is not None)] += 1
    return result


def read_tail(path: str, max_bytes: int) -> list[str]:
    """The last ``max_bytes`` of a log file as lines (a partial first line is dropped)."""
    file = Path(path)
    with file.open("rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - max_bytes))
        data = fh.read()
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[1:] if size > max_bytes else lines


def failed_logins_finding(
    target: str, path: str, failures: LoginFailures, hours: float, threshold: Threshold
) -> Finding:
    top = ", ".join(f"{user} ({n})" for user, n in failures.by_user.most_common(5)) or "none"
    return measured(FAILED_LOGINS, target, failures.count, threshold,
                    f"{failures.count} failed logins in the last {hours:g} h in {path}; users: {top}",
                    {"by_user": dict(failures.by_user.most_common(20)), "undated_lines": failures.undated,
                     "log_file": path})


def check_log(target: str, log_file: str | None, since: datetime, sec: SecurityConfig) -> Finding:
    if log_file is None:
        raise ValueError(f"targets.postgres[{target}].log_file is not set")
    failures = count_failed_logins(read_tail(log_file, sec.log_tail_bytes), since)
    return failed_logins_finding(target, log_file, failures, sec.failed_logins_hours, sec.failed_logins.as_threshold())


def port_finding(spec: str, is_open: bool, detail: str) -> Finding:
    if is_open:
        return Finding(OPEN_PORTS, spec, Severity.CRITICAL, f"{spec} accepts connections but must be closed",
                       value="open", threshold="closed")
    return Finding(OPEN_PORTS, spec, Severity.OK, f"{spec} is closed ({detail})", value="closed", threshold="closed")


def check_port(spec: str, timeout: float) -> Finding:
    host, port = tcp.parse_host_port(spec)
    return port_finding(spec, *tcp.probe_port(host, port, timeout))
