"""Per-target lock for heavy Redis work: ``SET mercenary:maintenance:lock <owner> NX PX <ms>``.

Airflow cannot give each mapped task instance its own pool, so heavy actions take this
lock on the target itself; it expires by itself if the holder dies, and is released only
by its owner (compare-and-delete in one Lua call).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mercenary_maintenance.adapters.redis import send_once

LOCK_KEY = "mercenary:maintenance:lock"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class LockBusy(RuntimeError):
    """Another maintenance task holds the target's lock."""


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@contextmanager
def target_lock(
    client: Any,
    owner: str,
    ttl_s: float,
    wait_s: float,
    poll_s: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold the target's lock for the block; wait up to ``wait_s`` for it, then raise :class:`LockBusy`."""
    deadline = clock() + wait_s
    # SET NX sent once: a re-send after a timeout could find our own key and report the target busy.
    while not send_once(client, "SET", LOCK_KEY, owner, "NX", "PX", max(1000, int(ttl_s * 1000))):
        if clock() >= deadline:
            holder = client.get(LOCK_KEY)
            raise LockBusy(f"target busy: {LOCK_KEY} held by {_text(holder) if holder else '?'} (waited {wait_s:g}s)")
        sleep(poll_s)
    try:
        yield
    finally:
        client.eval(_RELEASE, 1, LOCK_KEY, owner)
