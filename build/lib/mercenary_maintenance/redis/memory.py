"""``redis.memory``: used memory vs ``maxmemory``, fragmentation (ratio and bytes), swap suspicion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mercenary_maintenance.findings import Finding, Severity, Threshold, evaluate, limit_for, worst
from mercenary_maintenance.redis.info import num

CHECK = "redis.memory"


@dataclass(frozen=True)
class FragLimits:
    ratio: float
    min_bytes: int


def fragmentation(info: dict[str, Any]) -> tuple[float | None, float | None, str]:
    """(ratio, wasted bytes, source): the allocator's own numbers where Redis reports them.

    ``allocator_frag_*`` (Redis ≥ 4) excludes RSS overhead that a purge cannot give back;
    ``mem_fragmentation_*`` is the fallback.
    """
    if info.get("allocator_frag_ratio") is not None and info.get("allocator_frag_bytes") is not None:
        return num(info, "allocator_frag_ratio"), num(info, "allocator_frag_bytes"), "allocator_frag"
    ratio = num(info, "mem_fragmentation_ratio")
    wasted = num(info, "mem_fragmentation_bytes")
    if wasted is None and ratio is not None:
        used = num(info, "used_memory", 0) or 0
        rss = num(info, "used_memory_rss", 0) or 0
        wasted = rss - used
    return ratio, wasted, "mem_fragmentation"


def _mib(value: float | None) -> str:
    return "?" if value is None else f"{value / 2**20:.1f} MiB"


def check_memory(target: str, info: dict[str, Any], threshold: Threshold, frag: FragLimits) -> Finding:
    """One finding: worst of used/maxmemory, fragmentation and swap suspicion."""
    used = num(info, "used_memory")
    rss = num(info, "used_memory_rss")
    maxmemory = num(info, "maxmemory", 0) or 0
    ceiling = maxmemory or num(info, "total_system_memory", 0) or 0
    percent = round(100.0 * used / ceiling, 2) if used is not None and ceiling else None
    severities = [evaluate(percent, threshold)]
    limit_of = "maxmemory" if maxmemory else "system memory (no maxmemory set)"
    notes = [f"used {_mib(used)} = {percent}% of {limit_of} {_mib(ceiling)}"]

    ratio, wasted, source = fragmentation(info)
    fragmented = ratio is not None and wasted is not None and ratio > frag.ratio and wasted > frag.min_bytes
    if fragmented:
        severities.append(Severity.WARNING)
        notes.append(f"fragmented: {source}_ratio {ratio} wastes {_mib(wasted)} "
                     f"(> {frag.ratio} and > {_mib(frag.min_bytes)})")
    # The kernel swapped part of the dataset out when RSS is below what Redis allocated.
    swapping = used is not None and rss is not None and rss > 0 and used > rss
    if swapping:
        severities.append(Severity.WARNING)
        notes.append(f"swap suspected: used {_mib(used)} > RSS {_mib(rss)}")
    severity = worst(severities)
    return Finding(
        CHECK, target, severity, "; ".join(notes), value=percent,
        threshold=limit_for(evaluate(percent, threshold), threshold),
        details={
            "used_memory": used, "used_memory_rss": rss, "maxmemory": maxmemory or None,
            "maxmemory_policy": info.get("maxmemory_policy"), "mem_allocator": info.get("mem_allocator"),
            "fragmentation_ratio": ratio, "fragmentation_bytes": wasted, "fragmentation_source": source,
            "fragmented": fragmented, "swap_suspected": swapping,
            "mem_fragmentation_ratio": info.get("mem_fragmentation_ratio"),
        },
    )
