"""``redis.aof_growth`` (weekly): how much the append-only file grew since its last rewrite,
measured before ``BGREWRITEAOF`` and again after it (the report's ``resolved_by``; the body is
``redis.bodies.weekly_rewrite``, the check's row ``redis.checks.CHECKS``).

Growth is ``(aof_current_size − aof_base_size) / max(aof_base_size, redis.aof_min_bytes)``
in percent — Redis's own auto-rewrite rule (``auto-aof-rewrite-percentage`` over
``auto-aof-rewrite-min-size``), so a tiny file never looks alarming.
"""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.findings import Finding, Severity, Threshold, measured
from mercenary_maintenance.redis.info import num

CHECK = "redis.aof_growth"
ACTION = "redis.bgrewriteaof"


def aof_growth(target: str, info: dict[str, Any], threshold: Threshold, min_bytes: int) -> Finding:
    """
    >>> aof_growth("c", {"aof_enabled": 1, "aof_current_size": 3000, "aof_base_size": 1000}, Threshold(100, 400), 10)
    ... # doctest: +ELLIPSIS
    Finding(check='redis.aof_growth', target='c', severity=<Severity.WARNING: 1>, message='AOF grew 200.0% ...
    >>> aof_growth("c", {"aof_enabled": 0}, Threshold(100, 400), 10).details["aof_enabled"]
    False
    """
    if num(info, "aof_enabled", 0) != 1:
        return Finding(CHECK, target, Severity.OK, "AOF is off: nothing grows", value=0,
                       details={"aof_enabled": False})
    current = int(num(info, "aof_current_size", 0) or 0)
    base = int(num(info, "aof_base_size", 0) or 0)
    growth = round((current - base) / max(base, min_bytes, 1) * 100, 1)
    return measured(CHECK, target, growth, threshold,
                    f"AOF grew {growth}% since its last rewrite ({current} bytes, base {base})",
                    {"aof_enabled": True, "aof_current_size": current, "aof_base_size": base, "min_bytes": min_bytes})
