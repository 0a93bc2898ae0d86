"""The maintenance plan's items (core): one action on one target in one coming window, and what
the plan tells about each kind of action — its lock, its rollback, the size-based rate of its
estimate.

The preview makes the items (``preview/plan.py``: estimates, risk notes, rendering) and writes
them to its report; approvals show the item they approve; ``write_report`` compares a window
run with them (``report/planned.py``). What the preview learns of a target comes from the
target's area (:class:`Probes`: each area knows what its actions would select), handed to the
preview by the wiring (``registry.PROBES``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.config import LogSet

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step

MIB = 2**20
GIB = 2**30


@dataclass(frozen=True)
class ActionInfo:
    """What the preview tells about one kind of action."""

    lock: str
    rollback: str
    bytes_per_s: float  # size-based estimate: this many bytes per second (conservative)
    approval: str | None = None  # the approvals.required_for kind that gates it, if any


ACTIONS: dict[str, ActionInfo] = {
    "postgres.vacuum_analyze": ActionInfo(
        "SHARE UPDATE EXCLUSIVE (reads and writes continue; DDL and other VACUUMs of the table wait)",
        "none needed: VACUUM only frees dead row versions and refreshes statistics; nothing to undo",
        50 * MIB),
    "postgres.reindex": ActionInfo(
        "SHARE UPDATE EXCLUSIVE (REINDEX CONCURRENTLY: reads and writes continue; short locks at the swap)",
        "none needed: the old index serves queries until the new one is valid; a cancelled rebuild leaves an "
        "invalid *_ccnew index, which the action drops",
        20 * MIB),
    "postgres.vacuum_full": ActionInfo(
        "ACCESS EXCLUSIVE (every read and write of the table waits for the whole rewrite)",
        "cancel (pg_cancel_backend) before it ends: the old table file stays; once done the data is unchanged "
        "(a compacting rewrite), nothing to undo. Needs free disk about the table's size plus its indexes",
        20 * MIB, approval="vacuum_full"),
    "redis.memory_purge": ActionInfo(
        "none (allocator purge; a short latency spike)",
        "none needed: only returns free allocator pages to the OS",
        1024 * MIB),
    "redis.bgrewriteaof": ActionInfo(
        "none (a forked child rewrites; fork latency and copy-on-write memory up to the dataset size)",
        "none needed: the old AOF stays in use until the rewrite succeeds",
        50 * MIB),
    "backup.restore_test": ActionInfo(
        "none on the source (restores the latest backup into a scratch database)",
        "none needed: the scratch database is dropped afterwards",
        20 * MIB),
    "logs.archive": ActionInfo(
        "none",
        "local files are deleted only after their archive is verified on S3: restore from "
        "s3://<backups.bucket>/logs/<set>/",
        20 * MIB, approval="retention_delete"),
}


@dataclass
class PlanItem:
    window_dag_id: str
    window_start: str
    target: str
    action: str
    objects: list[str]
    estimate_s: float
    estimate_basis: str  # history | size
    lock: str
    risk: str
    rollback: str
    size_bytes: int = 0
    figures: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TargetState:
    """Read-only figures of a target that make an action riskier."""

    active_sessions: int | None = None
    replication_lag_bytes: float | None = None
    max_active_sessions: int = 20
    max_lag_bytes: float = 100 * MIB


@dataclass
class PostgresProbe:
    """What the window's PostgreSQL actions would select on a target, with figures per object."""

    vacuum: list[dict[str, Any]] = field(default_factory=list)
    reindex: list[dict[str, Any]] = field(default_factory=list)
    vacuum_full: list[dict[str, Any]] = field(default_factory=list)
    database_bytes: int = 0
    state: TargetState = field(default_factory=TargetState)


@dataclass
class RedisProbe:
    purge: dict[str, Any] | None = None  # figures when MEMORY PURGE would run
    rewrite: dict[str, Any] | None = None  # figures when BGREWRITEAOF would run
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Probes:
    """The areas' read-only looks the preview plans from: ``postgres(step, target)``,
    ``redis(step, target)``, and the local bytes of a log set (what ``logs.archive`` may delete)."""

    postgres: Callable[[Step, str], PostgresProbe]
    redis: Callable[[Step, str], RedisProbe]
    log_bytes: Callable[[LogSet], int]


def human_bytes(n: float) -> str:
    """
    >>> human_bytes(512), human_bytes(3 * 2**20), human_bytes(5.5 * 2**30)
    ('512 B', '3.0 MiB', '5.5 GiB')
    """
    if n >= GIB:
        return f"{n / GIB:.1f} GiB"
    if n >= MIB:
        return f"{n / MIB:.1f} MiB"
    return f"{int(n)} B"
