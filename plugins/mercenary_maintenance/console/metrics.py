"""``/maintenance/metrics``: the index as Prometheus gauges (names fixed in docs/ui.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mercenary_maintenance.console.index import RunIndex

# docs/ui.md's scale (not the ordering of findings.Severity, where unknown ranks below critical).
SEVERITY_VALUE = {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}
_WORSE = {"ok": 0, "warning": 1, "unknown": 2, "critical": 3}
BACKUP_KINDS = {"backup.full": "full", "backup.incremental": "incremental"}


class IndexCollector(Collector):
    def __init__(self, index: RunIndex, now: datetime, hidden_dags: int = 0) -> None:
        self.index, self.now, self.hidden_dags = index, now, hidden_dags

    def collect(self) -> Iterator[Any]:
        severity = GaugeMetricFamily("mercenary_finding_severity",
                                     "Latest severity of a check on a target: 0 ok, 1 warning, 2 critical, 3 unknown",
                                     labels=["check", "target", "dag_id"])
        worst: dict[tuple[str, str, str], str] = {}
        for f in self.index.latest_findings():
            key = (f["check"], f["target"], f["dag_id"])
            sev = f["severity"] if f["severity"] in SEVERITY_VALUE else "unknown"
            if key not in worst or _WORSE[sev] > _WORSE[worst[key]]:
                worst[key] = sev
        for key, sev in sorted(worst.items()):
            severity.add_metric(list(key), SEVERITY_VALUE[sev])
        yield severity

        age = GaugeMetricFamily("mercenary_backup_age_seconds", "Seconds since the last completed backup",
                                labels=["target", "kind"])
        for action, kind in BACKUP_KINDS.items():
            for target in sorted(self.index.event_targets(action)):
                event = self.index.last_event(action, target, ok_only=True)
                if event is not None:
                    age.add_metric([target, kind], max(0.0, self.now.timestamp() - event["ts"]))
        yield age

        success = GaugeMetricFamily("mercenary_restore_test_success", "1 when the last restore test passed",
                                    labels=["target"])
        duration = GaugeMetricFamily("mercenary_restore_test_duration_seconds",
                                     "Duration of the last restore test", labels=["target"])
        # When it ran (deploy/prometheus/rules.yml: a restore test older than 8 days).
        when = GaugeMetricFamily("mercenary_restore_test_timestamp_seconds",
                                 "Unix time of the last restore test", labels=["target"])
        for target in sorted(self.index.event_targets("backup.restore_test")):
            event = self.index.last_event("backup.restore_test", target, ok_only=False)
            if event is not None:
                success.add_metric([target], float(event["ok"]))
                when.add_metric([target], float(event["ts"]))
                if event["duration_s"] is not None:
                    duration.add_metric([target], float(event["duration_s"]))
        yield success
        yield duration
        yield when

        rto = GaugeMetricFamily("mercenary_restore_seconds",
                                "The last restore test's restore_seconds (phase=total: the RTO measure) and its phases",
                                labels=["target", "phase"])
        for p in self.index.latest_points("restore_duration_s"):
            rto.add_metric([p["target"], "total"], float(p["value"]))
        for p in self.index.latest_points("restore_phase_s"):
            rto.add_metric([p["target"], p["label"]], float(p["value"]))
        yield rto

        last = GaugeMetricFamily("mercenary_last_run_timestamp_seconds",
                                 "Unix time of the last run of a DAG that ended with this status",
                                 labels=["dag_id", "status"])
        for dag_id, status, ts in sorted(self.index.last_by_status()):
            last.add_metric([dag_id, str(status)], ts)
        yield last

        # Every series above is limited to the DAGs the scraping user may read: a Prometheus
        # whose service user lost a permission would otherwise just stop seeing a backup's age,
        # and the rules over it go quiet. This says so (deploy/prometheus/rules.yml alerts on it).
        hidden = GaugeMetricFamily("mercenary_metrics_hidden_dags",
                                   "DAGs with maintenance runs whose series this user may not read (left out)")
        hidden.add_metric([], float(self.hidden_dags))
        yield hidden


def exposition(index: RunIndex, now: datetime, hidden_dags: int = 0) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(IndexCollector(index, now, hidden_dags))
    return bytes(generate_latest(registry))
