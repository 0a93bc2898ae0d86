"""Every Redis check, declared once (the body that runs the daily ones: :mod:`.bodies`).

:data:`CHECKS` is the table: one :class:`RedisCheck` per check — its name, what it reads
(``INFO <section>``, ``SLOWLOG GET``), its pure rule, its threshold key (``thresholds.<key>``) and its
cadence; ``measure`` reads through the :class:`Probe` and applies the rule. The cadence sets, the
name constant :data:`NAMES` and the Redis table of ``docs/checks.md`` are derived from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mercenary_maintenance.findings import Finding
from mercenary_maintenance.redis import aof
from mercenary_maintenance.redis import client as rclient
from mercenary_maintenance.redis.memory import FragLimits, check_memory
from mercenary_maintenance.redis.persistence import check_persistence
from mercenary_maintenance.redis.slowlog import check_slowlog, parse_entries
from mercenary_maintenance.redis.stats import (
    check_evictions,
    check_hit_ratio,
    check_rejected,
    check_replication,
    info_finding,
)
from mercenary_maintenance.report.store import store_for

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step

Cadence = Literal["daily", "weekly"]
# The task (in redis/tasks.py) that runs a cadence's checks on every target.
TASK_OF_CADENCE: dict[Cadence, str] = {"daily": "check_redis", "weekly": "rewrite_aof"}


def previous_details(step: Step, target: str, checks: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The details of ``checks`` on ``target`` in this DAG's previous report (counters are judged as deltas)."""

    report = store_for(step.cfg).previous_report(step.run.dag_id, step.run.run_id)
    found = {}
    for finding in (report or {}).get("findings", []):
        if finding.get("target") == target and finding.get("check") in checks:
            found[str(finding["check"])] = dict(finding.get("details") or {})
    return found


@dataclass
class Probe:
    """One target's answers, read once per task: the client (connected and pinged once: a server
    that is down fails every check with the same error), INFO sections, the previous report."""

    step: Step
    target: str
    _state: dict[str, Any] = field(default_factory=dict)

    def client(self) -> Any:
        if "error" in self._state:
            raise self._state["error"]
        if "client" not in self._state:
            try:
                self._state["client"] = rclient.connect(self.step.cfg, self.target)
                self._state["client"].ping()
            except Exception as exc:
                self._state["error"] = exc
                raise
        return self._state["client"]

    def info(self, section: str | None = None) -> dict[str, Any]:
        key = f"info:{section}"
        if key not in self._state:
            self._state[key] = rclient.info(self.client(), section)
        return dict(self._state[key])

    def previous(self, name: str) -> dict[str, Any] | None:
        if "previous" not in self._state:
            self._state["previous"] = previous_details(self.step, self.target, COUNTERS)
        found: dict[str, Any] | None = self._state["previous"].get(name)
        return found


@dataclass(frozen=True)
class RedisCheck:
    """One Redis check; ``measure(probe, threshold)`` reads ``reads`` and applies ``rule``."""

    name: str
    reads: str
    rule: Callable[..., Finding | None]
    threshold: str | None
    cadence: Cadence
    measure: Callable[[Probe, Any], Finding | None]

    def run(self, probe: Probe) -> Finding | None:
        cfg = probe.step.cfg
        threshold = getattr(cfg.thresholds, self.threshold).as_threshold() if self.threshold else None
        return self.measure(probe, threshold)


def _memory(p: Probe, th: Any) -> Finding:
    r = p.step.cfg.redis
    return check_memory(p.target, p.info("memory"), th, FragLimits(r.fragmentation_ratio, r.fragmentation_min_bytes))


def _slowlog(p: Probe, th: Any) -> Finding:
    raw = p.client().execute_command("SLOWLOG", "GET", p.step.cfg.redis.slowlog_entries)
    return check_slowlog(p.target, parse_entries(list(raw)), th)


def _persistence(p: Probe, th: Any) -> Finding:
    return check_persistence(p.target, p.info("persistence"), time.time(), p.step.cfg.redis.last_save_max_age_hours)


def _hit_ratio(p: Probe, th: Any) -> Finding:
    return check_hit_ratio(p.target, p.info(), th, p.step.cfg.redis.hit_ratio_min_lookups)


def _evictions(p: Probe, th: Any) -> Finding:
    return check_evictions(p.target, p.info(), th, p.previous("redis.evictions"))


def _rejected(p: Probe, th: Any) -> Finding:
    return check_rejected(p.target, p.info(), th, p.previous("redis.rejected_connections"))


def _replication(p: Probe, th: Any) -> Finding | None:
    return check_replication(p.target, p.info())


def _info(p: Probe, th: Any) -> Finding:
    return info_finding(p.target, p.info())


def _aof_growth(p: Probe, th: Any) -> Finding:
    return aof.aof_growth(p.target, p.info("persistence"), th, p.step.cfg.redis.aof_min_bytes)


CHECKS: tuple[RedisCheck, ...] = (
    RedisCheck("redis.memory", "INFO memory", check_memory, "redis_memory_percent", "daily", _memory),
    RedisCheck("redis.slowlog", "SLOWLOG GET", check_slowlog, "redis_slowlog_ms", "daily", _slowlog),
    RedisCheck("redis.persistence", "INFO persistence", check_persistence, None, "daily", _persistence),
    RedisCheck("redis.hit_ratio", "INFO", check_hit_ratio, "redis_hit_ratio_percent", "daily", _hit_ratio),
    RedisCheck("redis.evictions", "INFO (delta since the previous run)", check_evictions, "redis_evicted_keys",
               "daily", _evictions),
    RedisCheck("redis.rejected_connections", "INFO (delta since the previous run)", check_rejected,
               "redis_rejected_connections", "daily", _rejected),
    RedisCheck("redis.replication", "INFO (replicas only)", check_replication, None, "daily", _replication),
    RedisCheck("redis.info", "INFO", info_finding, None, "daily", _info),
    RedisCheck("redis.aof_growth", "INFO persistence (before and after BGREWRITEAOF)", aof.aof_growth,
               "redis_aof_growth_percent", "weekly", _aof_growth),
)
BY_NAME: dict[str, RedisCheck] = {c.name: c for c in CHECKS}
NAMES: frozenset[str] = frozenset(BY_NAME)
DAILY_CHECKS: tuple[RedisCheck, ...] = tuple(c for c in CHECKS if c.cadence == "daily")
# Counters judged as deltas against the previous report.
COUNTERS = ("redis.evictions", "redis.rejected_connections")
