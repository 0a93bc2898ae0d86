"""The only place a network client is made: one module per backend.

Each adapter applies the connect and read bounds of the ``timeouts`` config section, so a
target that accepts TCP and never answers costs a task at most its bound (DESIGN §8).
``tests/dags/test_time_bounds.py`` fails when a hook, client or client socket is made anywhere else.
"""

from __future__ import annotations

from mercenary_maintenance.config import ConfigError, TimeoutsConfig, load_config


def current_timeouts(timeouts: TimeoutsConfig | None = None) -> TimeoutsConfig:
    """``timeouts`` when given, else the config's section; the defaults when the config is broken
    (a failure notice about a broken config must still be bounded)."""
    if timeouts is not None:
        return timeouts
    try:
        return load_config().timeouts
    except ConfigError:
        return TimeoutsConfig()
