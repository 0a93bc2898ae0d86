"""``redis.slowlog``: ``SLOWLOG GET n`` entries, arguments truncated and secrets redacted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mercenary_maintenance.findings import Finding, Threshold, measured
from mercenary_maintenance.runner import mask

CHECK = "redis.slowlog"
MAX_ARGS = 4
MAX_ARG_CHARS = 32
REDACTED = "***"
_SECRET_CONFIG = {"requirepass", "masterauth", "masteruser", "tls-key-file-pass", "tls-client-key-file-pass"}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def redact(args: list[str]) -> list[str]:
    """Replace arguments that can carry credentials.

    >>> redact(["AUTH", "user", "pw"])
    ['AUTH', '***', '***']
    >>> redact(["CONFIG", "SET", "requirepass", "pw", "maxmemory", "1mb"])
    ['CONFIG', 'SET', 'requirepass', '***', 'maxmemory', '1mb']
    >>> redact(["HELLO", "3", "AUTH", "u", "pw"])
    ['HELLO', '3', 'AUTH', '***', '***']
    """
    if not args:
        return args
    out = list(args)
    name = out[0].upper()
    if name == "AUTH":
        return [out[0], *([REDACTED] * (len(out) - 1))]
    if name == "ACL" and len(out) > 2 and out[1].upper() == "SETUSER":
        return [*out[:3], *([REDACTED] * (len(out) - 3))]
    if name == "CONFIG" and len(out) > 1 and out[1].upper() == "SET":
        for i in range(2, len(out) - 1, 2):
            if out[i].lower() in _SECRET_CONFIG:
                out[i + 1] = REDACTED
        return out
    for i, arg in enumerate(out):
        # HELLO … AUTH user pass, MIGRATE … AUTH pass / AUTH2 user pass
        if arg.upper() in ("AUTH", "AUTH2") and i > 0:
            return [*out[: i + 1], *([REDACTED] * (len(out) - i - 1))]
    return [mask(a) for a in out]


def describe_command(raw: list[Any]) -> str:
    """The command line for the report: redacted, at most ``MAX_ARGS`` arguments of ``MAX_ARG_CHARS``."""
    args = redact([_text(a) for a in raw])
    shown = []
    for arg in args[: MAX_ARGS + 1]:
        shown.append(arg if len(arg) <= MAX_ARG_CHARS else f"{arg[:MAX_ARG_CHARS]}…({len(arg)} chars)")
    if len(args) > MAX_ARGS + 1:
        shown.append(f"…(+{len(args) - MAX_ARGS - 1} args)")
    return " ".join(shown)


def parse_entries(raw: list[Any]) -> list[dict[str, Any]]:
    """Raw ``SLOWLOG GET`` replies: ``[id, unix time, µs, [args], client addr, client name]``."""
    entries = []
    for item in raw:
        entries.append({
            "id": int(item[0]),
            "at": datetime.fromtimestamp(int(item[1]), UTC).isoformat(),
            "duration_ms": round(int(item[2]) / 1000.0, 3),
            "command": describe_command(list(item[3])),
            "client": _text(item[4]) if len(item) > 4 else None,
            "client_name": _text(item[5]) if len(item) > 5 else None,
        })
    return entries


def check_slowlog(target: str, entries: list[dict[str, Any]], threshold: Threshold) -> Finding:
    slowest = max((e["duration_ms"] for e in entries), default=0.0)
    over = [e for e in entries if e["duration_ms"] > threshold.warning]
    if not entries:
        message = "slow log is empty"
    else:
        top = max(entries, key=lambda e: e["duration_ms"])
        message = (f"{len(entries)} slow log entries, {len(over)} over {threshold.warning:g} ms; "
                   f"slowest {slowest} ms: {top['command']}")
    return measured(CHECK, target, slowest, threshold, message, {"entries": entries, "over_threshold": len(over)})
