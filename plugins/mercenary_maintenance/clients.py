"""The doors a task body has to the backends: what the :class:`~mercenary_maintenance.steps.Step`
carries besides the config.

:class:`Clients` makes clients through the adapters with the ``timeouts`` of the validated config
the task loaded once (nothing below the ``Step`` reads the config file again); :class:`Clock` is the
time a body sees. Tests inject fakes (``Step(cfg, run, clients=…, clock=…)``) instead of patching
modules.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.adapters import redis as redis_adapter
from mercenary_maintenance.adapters import s3 as s3_adapter
from mercenary_maintenance.config import TimeoutsConfig
from mercenary_maintenance.pg import params as pg_params
from mercenary_maintenance.pg import session as pg_session
from mercenary_maintenance.windows.rules import UTC

if TYPE_CHECKING:
    from mercenary_maintenance.config import PostgresTarget
    from mercenary_maintenance.pg.params import PgParams
    from mercenary_maintenance.pg.session import Session


class Clock:
    """Wall-clock time (UTC), monotonic time and sleeping, as a body sees them."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class Clients:
    """Client factories bound to the config's ``timeouts`` (one adapter per backend)."""

    timeouts: TimeoutsConfig

    def pg_session(self, target: PostgresTarget, *, purpose: str, lock_timeout_s: float,
                   statement_timeout_s: float, budget: Callable[[], float] | None = None,
                   ) -> AbstractContextManager[Session]:
        """A :class:`~mercenary_maintenance.pg.session.Session` on ``target``."""
        return pg_session.open_session(target, purpose=purpose, lock_timeout_s=lock_timeout_s,
                                       statement_timeout_s=statement_timeout_s, budget=budget,
                                       timeouts=self.timeouts)

    def pg_params(self, conn_id: str) -> PgParams:
        """Connection parameters for libpq programs (pg_dump, …) and their own sessions."""
        return pg_params.params(conn_id, self.timeouts)

    def redis(self, conn_id: str) -> Any:
        """A redis-py client (bytes replies) bounded by ``timeouts.redis``."""
        return redis_adapter.connect(conn_id, timeouts=self.timeouts)

    def s3(self, conn_id: str | None) -> Any:
        """A boto3 S3 client of the ``aws`` connection ``conn_id`` bounded by ``timeouts.s3``."""
        return s3_adapter.client(conn_id, timeouts=self.timeouts)
