"""The preview's read-only look at a Redis target: whether the window's actions would run (the
actions' own skip rules) and the figures they would act on. The preview area receives
:func:`probe` from the wiring (``registry.PROBES``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mercenary_maintenance.plan import RedisProbe
from mercenary_maintenance.redis import client as rclient
from mercenary_maintenance.redis.actions import purge_skip_reason, rewrite_skip_reason

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def probe(step: Step, target: str) -> RedisProbe:

    client = rclient.connect(step.cfg, target)
    memory = rclient.info(client, "memory")
    persistence = rclient.info(client, "persistence")
    out = RedisProbe()
    reason = purge_skip_reason(memory)
    if reason:
        out.skipped["redis.memory_purge"] = reason
    else:
        out.purge = {"object": target, "size_bytes": int(memory.get("used_memory_rss") or 0),
                     "allocator": memory.get("mem_allocator")}
    reason = rewrite_skip_reason(persistence)
    if reason:
        out.skipped["redis.bgrewriteaof"] = reason
    else:
        size = int(persistence.get("aof_base_size") or memory.get("used_memory") or 0)
        out.rewrite = {"object": target, "size_bytes": size}
    return out
