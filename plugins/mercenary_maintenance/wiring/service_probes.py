"""alert_evaluation's service probes, by target kind (``targets.<kind>``): wiring like
:mod:`~mercenary_maintenance.wiring.registry` (it hands the health area's probes to the alerts area), kept
apart from it so that the task process of alert_evaluation — 288 runs a day — does not import every
area's actions, checks and previews to find three probes. A new kind of target is one more entry.
"""

from __future__ import annotations

from mercenary_maintenance.alerts.probes import ServiceProbe
from mercenary_maintenance.health import services

# Each probe is bounded by its client's timeouts and returns one services.status finding for its target.
SERVICE_PROBES: dict[str, ServiceProbe] = {
    "postgres": ServiceProbe(lambda cfg: cfg.targets.postgres, services.probe_postgres),
    "redis": ServiceProbe(lambda cfg: cfg.targets.redis, services.probe_redis),
    "http": ServiceProbe(lambda cfg: cfg.targets.http, services.probe_http),
    # targets.hosts only: the implicit host "local" is the worker running the probe itself.
    "host": ServiceProbe(lambda cfg: cfg.targets.hosts, services.probe_host),
}
