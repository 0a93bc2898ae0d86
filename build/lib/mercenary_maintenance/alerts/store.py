"""Where the alert state lives between runs: one Airflow Variable holding a JSON object.

Why a Variable: it is in Airflow's metadata database, so it survives restarts and
worker changes, needs no extra service, can be inspected (and reset) in the UI or with
``airflow variables get mercenary_alert_state``, and ``alert_evaluation`` runs one at a
time (``max_active_runs=1``), so there is a single writer. The report store is write-once
by design and is not suited to a value rewritten every five minutes.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from mercenary_maintenance.alerts.state import AlertState


class StateStore(Protocol):
    def load(self) -> AlertState: ...
    def save(self, state: AlertState) -> None: ...


class VariableStateStore:
    def __init__(self, key: str) -> None:
        self.key = key

    def load(self) -> AlertState:
        from airflow.sdk import Variable

        raw: Any = Variable.get(self.key, default=None)
        if raw is None:
            return AlertState()
        try:
            return AlertState.from_dict(json.loads(raw))
        except (ValueError, TypeError, KeyError) as exc:
            # A corrupt state must not silently reset every alert: fail loudly with the fix.
            raise ValueError(f"Airflow Variable {self.key!r} does not hold a valid alert state ({exc}); "
                             f"delete it to start from an empty state") from None

    def save(self, state: AlertState) -> None:
        from airflow.sdk import Variable

        Variable.set(self.key, json.dumps(state.to_dict(), sort_keys=True),
                     description="alert_evaluation state (pending/firing alerts, undelivered notices)")


class MemoryStateStore:
    """For tests and dry runs."""

    def __init__(self, state: AlertState | None = None) -> None:
        self.state = state or AlertState()
        self.saves = 0

    def load(self) -> AlertState:
        return self.state

    def save(self, state: AlertState) -> None:
        self.state = state
        self.saves += 1
