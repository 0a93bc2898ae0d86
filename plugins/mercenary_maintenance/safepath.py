"""Path components from untrusted names.

A run id is chosen by whoever triggers a run (``airflow dags trigger --run-id ../../x``), so
it never becomes a path component or object key unsanitized.
"""

from __future__ import annotations

import hashlib
import re

_SAFE = re.compile(r"^[A-Za-z0-9_.:+=-]{1,160}$")
_UNSAFE_CHAR = re.compile(r"[^A-Za-z0-9_.:+=-]")


def safe_component(name: str) -> str:
    """``name`` as one safe path component / key segment.

    Names that are already safe (every Airflow-generated run id) are kept as they are, so
    existing reports keep their paths; anything else (``/``, ``..``, spaces, control
    characters, over-long) is replaced and suffixed with a hash of the original, so two
    different names never collide. The result is itself safe (idempotent).

    >>> safe_component("scheduled__2026-03-01T01:00:00+00:00")
    'scheduled__2026-03-01T01:00:00+00:00'
    >>> safe_component("../../etc/cron.d/x")
    '___.._etc_cron.d_x-ea88c59c89'
    >>> safe_component("..")
    '__-5ec1f7e700'
    >>> safe_component(safe_component("a/b")) == safe_component("a/b")
    True
    """
    if _SAFE.match(name) and not name.startswith("."):
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    cleaned = _UNSAFE_CHAR.sub("_", name)[:120]
    cleaned = re.sub(r"^\.+", lambda m: "_" * len(m[0]), cleaned)
    return f"{cleaned}-{digest}"

