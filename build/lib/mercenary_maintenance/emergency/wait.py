"""The notice wait: a deferrable sensor (no worker slot held while waiting).

The standard provider's ``DateTimeSensorAsync`` always defers, even when the moment has
passed; for a critical request (moment = now) that would add a trigger round trip before
acting, so this subclass returns at once when the moment is already here.
Cancel a pending wait by marking this task failed or skipped: ``act`` then never runs.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync


class NoticeWaitSensor(DateTimeSensorAsync):  # type: ignore[misc]
    """Wait (deferred) until ``target_time``; succeed at once if it has passed."""

    def execute(self, context: Any) -> None:  # type: ignore[override]  # the parent always defers
        from airflow.sdk import timezone

        if timezone.utcnow() >= self._moment:
            self.log.info("no notice period to wait (act at %s): continuing at once", self._moment)
            return
        self.log.info("waiting (deferred, no worker slot) until %s; mark this task failed to cancel", self._moment)
        super().execute(context)
