"""Reading Redis ``INFO`` dicts: numbers, and a copy safe to keep in a report."""

from __future__ import annotations

import re
from typing import Any

from mercenary_maintenance.runner import mask

# INFO has no password field today; these patterns keep it that way if a fork adds one.
_SECRET_KEY = re.compile(r"pass|auth|secret|token|credential", re.IGNORECASE)


def num(info: dict[str, Any], key: str, default: float | None = None) -> float | None:
    """A numeric INFO field (``None``/default when absent or not a number)."""
    value = info.get(key)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).rstrip("%")) if value is not None else default
    except ValueError:
        return default


def sanitize(info: dict[str, Any]) -> dict[str, Any]:
    """INFO without anything secret-looking: such keys dropped, URIs' passwords masked.

    >>> sanitize({"role": "master", "masterauth": "s3cret", "x": "redis://u:pw@h"})
    {'role': 'master', 'x': 'redis://u:***@h'}
    """
    out: dict[str, Any] = {}
    for key, value in info.items():
        if _SECRET_KEY.search(str(key)):
            continue
        if isinstance(value, dict):
            out[str(key)] = sanitize(value)
        elif isinstance(value, str):
            out[str(key)] = mask(value)
        else:
            out[str(key)] = value
    return out
