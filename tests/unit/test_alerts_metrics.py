"""Parsing Prometheus answers, the psutil fallback, and bounded Slack retries."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import requests

from mercenary_maintenance.alerts import metrics
from mercenary_maintenance.config import ALERT_METRICS, ConfigError, parse_config
from mercenary_maintenance.delivery import deliver
from mercenary_maintenance.findings import Severity, Threshold

TH = {r.threshold: Threshold(70, 90) for r in metrics.RULES}
CPU = metrics.RULES[0]


def vector(*series: tuple[dict[str, str], str]) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector",
                                          "result": [{"metric": m, "value": [1.0, v]} for m, v in series]}}


def test_vector_answer_gives_one_finding_per_series():
    found = metrics.findings_from_answer(CPU, Threshold(70, 90), vector(({"instance": "a:9100"}, "95.5"),
                                                                        ({"instance": "b:9100"}, "12")))
    assert [(f.target, f.severity, f.value) for f in found] == [
        ("a:9100", Severity.CRITICAL, 95.5), ("b:9100", Severity.OK, 12.0)]
    assert found[0].threshold == 90


def test_nan_and_empty_answers_are_unknown():
    nan = metrics.findings_from_answer(CPU, Threshold(70, 90), vector(({}, "NaN")))
    assert nan[0].severity is Severity.UNKNOWN
    assert "no usable value" in nan[0].message
    empty = metrics.findings_from_answer(CPU, Threshold(70, 90), vector())
    assert empty[0].severity is Severity.UNKNOWN
    assert "no series" in empty[0].message


def test_scalar_answer():
    found = metrics.findings_from_answer(CPU, Threshold(70, 90),
                                         {"status": "success", "data": {"resultType": "scalar", "result": [1, "75"]}})
    assert found[0].severity is Severity.WARNING
    assert found[0].target == "all"


def test_error_answer_raises():
    with pytest.raises(ValueError, match="error"):
        metrics.findings_from_answer(CPU, Threshold(70, 90), {"status": "error", "error": "parse error"})


def test_unreachable_prometheus_makes_every_metric_unknown_after_one_try():
    calls: list[str] = []

    def query(promql: str) -> dict[str, Any]:
        calls.append(promql)
        raise requests.ConnectionError("Connection refused")

    found = metrics.prometheus_findings(TH, metrics.queries({}), query)
    assert len(calls) == 1
    assert {f.check for f in found} == metrics.RULE_NAMES
    assert all(f.severity is Severity.UNKNOWN and "Connection refused" in f.message for f in found)


def test_bad_query_only_affects_its_metric():
    def query(promql: str) -> dict[str, Any]:
        if promql == "broken(":
            return {"status": "error", "error": "parse error"}
        return vector(({"instance": "x"}, "1"))

    found = metrics.prometheus_findings(TH, metrics.queries({"host.memory": "broken("}), query)
    by_check = {f.check: f.severity for f in found}
    assert by_check["host.memory"] is Severity.UNKNOWN
    assert by_check["host.cpu"] is Severity.OK


def test_transport_measures_and_app_metrics_unknown():
    outputs = iter(["cpu  100 0 100 700 100 0 0 0\n", "cpu  195 0 195 705 105 0 0 0\n",
                    "MemTotal: 1000 kB\nMemAvailable: 500 kB\n",
                    "Filesystem 1024-blocks Used Available Capacity Mounted on\nx 100 85 15 85% /data\n"])
    fake = SimpleNamespace(host=SimpleNamespace(name="h", transport="ssh"),
                           run=lambda *_a, **_k: SimpleNamespace(stdout=next(outputs)))
    found = metrics.transport_findings(TH, fake, ["/data"], sleep=lambda _s: None) + metrics.no_prometheus(TH)
    by_check = {(f.check, f.target): f for f in found}
    assert by_check[("host.cpu", "h")].severity is Severity.CRITICAL  # 190 of 200 jiffies busy
    assert by_check[("host.memory", "h")].value == 50.0
    assert by_check[("host.disk_usage", "h:/data")].severity is Severity.WARNING
    assert by_check[("app.error_rate", "all")].severity is Severity.UNKNOWN
    assert "no Prometheus configured" in by_check[("app.latency_p95", "all")].message


def test_unknown_query_key_is_a_config_error():
    with pytest.raises(ConfigError, match=r"alerts.queries.*host\.cpux"):
        parse_config({"alerts": {"queries": {"host.cpux": "up"}}})


def test_the_config_knows_exactly_the_metrics_this_table_measures():
    # config.ALERT_METRICS (core) validates alerts.queries; the table here must have one rule per name.
    assert metrics.RULE_NAMES == ALERT_METRICS
    assert len(metrics.RULES) == len(ALERT_METRICS)
    parse_config({"alerts": {"queries": dict.fromkeys(metrics.RULE_NAMES, "up")}})


def test_delivery_retries_then_succeeds():
    sent: list[str] = []
    failures = [RuntimeError("Status Code: 500"), RuntimeError("Status Code: 502")]
    sleeps: list[float] = []

    def send(text: str) -> None:
        if failures:
            raise failures.pop(0)
        sent.append(text)

    result = deliver("hi", send, attempts=3, delay_s=1, sleep=sleeps.append)
    assert result.ok
    assert result.attempts == 3
    assert sent == ["hi"]
    assert sleeps == [1, 2]


def test_delivery_gives_up_after_bounded_attempts():
    def send(text: str) -> None:
        raise RuntimeError("Status Code: 500\nbody")

    result = deliver("hi", send, attempts=2, delay_s=0, sleep=lambda s: None)
    assert not result.ok
    assert result.attempts == 2
    assert result.error == "RuntimeError: Status Code: 500"
