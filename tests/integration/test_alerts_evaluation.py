"""Alert evaluation against a real Prometheus scraping a test exporter, and a real Slack receiver."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mercenary_dev import servers

from mercenary_maintenance.alerts.bodies import evaluate_alerts
from mercenary_maintenance.alerts.store import MemoryStateStore
from mercenary_maintenance.steps import StepFailed, execute_step

QUERIES = {
    "host.cpu": "test_cpu_percent",
    "host.memory": "test_memory_percent",
    "host.disk_usage": "test_disk_percent",
    "app.error_rate": "test_error_rate_percent",
    "app.latency_p95": "test_latency_p95_seconds",
}
CALM = {"test_cpu_percent": 10.0, "test_memory_percent": 20.0, "test_disk_percent": 30.0,
        "test_error_rate_percent": 0.1, "test_latency_p95_seconds": 0.2}
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Metrics:
    def __init__(self, exporter: servers.MetricsExporter, prom: servers.PrometheusServer) -> None:
        self.exporter, self.prom = exporter, prom

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.prom.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as resp:
            return list(json.loads(resp.read())["data"]["result"])

    def set(self, **values: float) -> None:
        """Set exporter values and wait until Prometheus has scraped them."""
        self.exporter.metrics.update(CALM)
        self.exporter.metrics.update(values)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                seen = {name: self.query(name) for name in self.exporter.metrics}
            except OSError:  # 503 while Prometheus is starting
                time.sleep(0.2)
                continue
            if all(r and float(r[0]["value"][1]) == self.exporter.metrics[n] for n, r in seen.items()):
                return
            time.sleep(0.2)
        raise AssertionError(f"Prometheus did not scrape {values}")

    @property
    def instance(self) -> str:
        return f"127.0.0.1:{self.exporter.port}"


@pytest.fixture(scope="module")
def metrics() -> Iterator[Metrics]:
    exporter = servers.MetricsExporter(metrics=dict(CALM)).start()
    prom = servers.PrometheusServer(scrape_targets=[f"127.0.0.1:{exporter.port}"], scrape_interval="1s").start()
    yield Metrics(exporter, prom)
    prom.cleanup()
    exporter.cleanup()


@pytest.fixture
def setup(metrics: Metrics, slack: servers.SlackReceiver, write_config: Callable[..., Path],
          connections: Callable[[dict[str, str]], None], request: pytest.FixtureRequest) -> Callable[..., None]:
    def configure(**alerts: Any) -> None:
        connections({**metrics.prom.connection_env("maintenance_prometheus"),
                     **slack.connection_env("maintenance_slack")})
        # These tests are about the metrics: service probes (test_paging.py) are off.
        write_config({"alerts": {"prometheus_conn_id": "maintenance_prometheus", "queries": QUERIES,
                                 "for_seconds": 0, "slack_retry_delay_seconds": 0.05, "probe_services": False,
                                 "primary_oncall": "U0PRIMARY", "secondary_oncall": "U0SECOND",
                                 "state_variable": f"alert_state_{request.node.name}"[:200], **alerts}})
    return configure


def context(run_id: str = "manual__test") -> dict[str, Any]:
    dag_run = SimpleNamespace(dag_id="alert_evaluation", run_id=run_id, run_type="manual", logical_date=None,
                              triggering_user_name=None, data_interval_start=None, data_interval_end=None)
    return {"dag_run": dag_run, "ti": SimpleNamespace(task_id="evaluate_alerts", map_index=-1, try_number=1),
            "params": {}}


def parts(tmp_path: Path, run_id: str) -> list[dict[str, Any]]:
    folder = tmp_path / "reports" / "alert_evaluation" / run_id / "parts"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def evaluate(store: MemoryStateStore, now: datetime, run_id: str = "manual__test") -> dict[str, Any]:
    return execute_step(lambda step: evaluate_alerts(step, store=store, now=now), context=context(run_id))


def cpu_messages(slack: servers.SlackReceiver) -> list[str]:
    return [m["text"] for m in slack.messages if "host.cpu" in m["text"]]


def test_dag_fires_and_resolves_with_state_in_a_variable(metrics, slack, setup, run_dag, tmp_path):
    setup(repeat_interval_seconds=3600)
    metrics.set(test_cpu_percent=95)
    state, report = run_dag("alert_evaluation")
    assert state == "success", report
    assert report is not None
    cpu = [f for f in report["findings"] if f["check"] == "host.cpu"]
    assert [(f["target"], f["severity"], f["value"], f["threshold"]) for f in cpu] == [
        (metrics.instance, "critical", 95.0, 90.0)]
    # Critical inhibits the warning of the same check and target: exactly one message.
    texts = cpu_messages(slack)
    assert len(texts) == 1, texts
    assert "FIRING* CRITICAL host.cpu on 127.0.0.1" in texts[0]
    assert "value 95 vs threshold 90" in texts[0]
    assert "incident P2 (respond within 1 h)" in texts[0]
    assert "<@U0PRIMARY>" in texts[0]
    assert "/dags/alert_evaluation/runs/" in texts[0]
    assert [a["status"] for a in report["actions"] if a["action"] == "alerts.notify"] == ["done"]

    # The next run only knows the alert was notified through the state kept in the Variable.
    metrics.set(test_cpu_percent=10)
    state, _ = run_dag("alert_evaluation")
    assert state == "success"
    texts = cpu_messages(slack)
    assert len(texts) == 2, texts
    assert "RESOLVED* CRITICAL host.cpu" in texts[1]
    assert len(slack.messages) == 2  # nothing else fired


def test_fires_only_after_for_duration(metrics, slack, setup, tmp_path):
    setup(for_seconds=300)
    metrics.set(test_memory_percent=85)
    store = MemoryStateStore()
    evaluate(store, T0, "r1")
    assert slack.messages == []
    mem = next(f for f in parts(tmp_path, "r1")[0]["findings"] if f["check"] == "host.memory")
    assert mem["severity"] == "warning"
    assert mem["details"]["alert_warning"].startswith("pending since")
    evaluate(store, T0 + timedelta(seconds=299), "r2")
    assert slack.messages == []
    evaluate(store, T0 + timedelta(seconds=300), "r3")
    assert len(slack.messages) == 1
    assert "WARNING host.memory" in slack.messages[0]["text"]
    assert "incident P3 (respond within 4 h)" in slack.messages[0]["text"]


def test_repeat_and_escalation_to_secondary(metrics, slack, setup):
    setup(repeat_interval_seconds=7200, p1_checks=["app.error_rate"])
    metrics.set(test_error_rate_percent=7.5)
    store = MemoryStateStore()
    evaluate(store, T0)
    evaluate(store, T0 + timedelta(minutes=10))
    assert len(slack.messages) == 1
    assert "incident P1 (respond within 15 min)" in slack.messages[0]["text"]
    evaluate(store, T0 + timedelta(minutes=15))
    assert len(slack.messages) == 2
    assert "ESCALATED* CRITICAL app.error_rate" in slack.messages[1]["text"]
    assert "escalated to <@U0SECOND>" in slack.messages[1]["text"]
    evaluate(store, T0 + timedelta(minutes=15 + 120))
    assert len(slack.messages) == 3
    assert "STILL FIRING" in slack.messages[2]["text"]


def test_slack_500_then_200_is_retried_and_delivered_once(metrics, slack, setup, tmp_path):
    setup()
    metrics.set(test_latency_p95_seconds=1.5)
    slack.fail_next = [500]
    store = MemoryStateStore()
    evaluate(store, T0, "r1")
    assert slack.attempts == 2
    assert len(slack.messages) == 1
    assert "WARNING app.latency_p95" in slack.messages[0]["text"]
    action = parts(tmp_path, "r1")[0]["actions"][0]
    assert action["action"] == "alerts.notify"
    assert action["status"] == "done"
    assert action["details"]["attempts"] == 2
    evaluate(store, T0 + timedelta(minutes=5), "r2")  # dedup: within the repeat interval
    assert len(slack.messages) == 1


def test_slack_down_for_good_is_recorded_fails_the_task_and_is_resent_later(metrics, slack, setup, tmp_path):
    setup(slack_attempts=3)
    metrics.set(test_cpu_percent=80)
    slack.fail_next = [500] * 3
    store = MemoryStateStore()
    with pytest.raises(StepFailed, match=r"alerts.notify .*not delivered after 3 attempts"):
        evaluate(store, T0, "r1")
    assert slack.attempts == 3
    assert slack.messages == []
    part = parts(tmp_path, "r1")[0]
    assert any(f["check"] == "host.cpu" and f["severity"] == "warning" for f in part["findings"])
    assert [a["status"] for a in part["actions"]] == ["failed"]
    assert len(store.state.outbox) == 1
    # Slack is back: the undelivered notice goes out on the next run, once.
    evaluate(store, T0 + timedelta(minutes=5), "r2")
    assert len(slack.messages) == 1
    assert "WARNING host.cpu" in slack.messages[0]["text"]
    assert store.state.outbox == ()


def test_the_one_task_writes_the_report_of_a_failed_run_too(metrics, slack, setup, run_dag, tmp_path):
    # alert_evaluation has no write_report task: evaluate_alerts writes the report, also when it fails.
    setup(slack_attempts=2)
    metrics.set(test_cpu_percent=80)
    slack.fail_next = [500] * 10  # every attempt of every try
    state, report = run_dag("alert_evaluation")
    assert state == "failed"
    assert report is not None
    assert report["status"] == "failed"
    assert report["failed_tasks"] == ["evaluate_alerts"]
    assert any(f["check"] == "host.cpu" and f["severity"] == "warning" for f in report["findings"])
    assert "failed" in [a["status"] for a in report["actions"] if a["action"] == "alerts.notify"]
    assert slack.messages == []


def test_prometheus_down_gives_unknown_and_no_notification(metrics, slack, setup, connections, tmp_path):
    setup()
    connections({"AIRFLOW_CONN_MAINTENANCE_PROMETHEUS": json.dumps(
        {"conn_type": "http", "host": f"http://127.0.0.1:{servers.free_port()}"})})
    store = MemoryStateStore()
    result = evaluate(store, T0, "r1")
    assert result["worst"] == "unknown"
    findings = parts(tmp_path, "r1")[0]["findings"]
    assert {f["check"] for f in findings} == set(QUERIES)
    assert all(f["severity"] == "unknown" and "Prometheus query failed" in f["message"] for f in findings)
    assert slack.messages == []


def test_without_prometheus_host_metrics_through_the_local_host_and_disk_threshold_by_config(
        slack, write_config, connections, tmp_path):
    connections(slack.connection_env("maintenance_slack"))
    write_config({"host": {"paths": ["/"]}, "alerts": {"for_seconds": 0},
                  "thresholds": {"disk_percent": {"warning": 0.001, "critical": 0.002}}})
    store = MemoryStateStore()
    evaluate(store, T0, "r1")
    findings = {(f["check"], f["target"].rsplit(":", 1)[-1]): f for f in parts(tmp_path, "r1")[0]["findings"]}
    assert findings[("host.disk_usage", "/")]["severity"] == "critical"
    assert findings[("host.disk_usage", "/")]["details"]["source"] == "transport:local"
    assert findings[("host.cpu", "local")]["severity"] in ("ok", "warning", "critical")
    assert findings[("app.error_rate", "all")]["severity"] == "unknown"
    assert "no Prometheus configured" in findings[("app.latency_p95", "all")]["message"]
    assert any("CRITICAL host.disk_usage" in m["text"] for m in slack.messages)


# ------------------------------------------------------------------ a slow Slack (issue 13 item 8)


class SlowSlack(servers.SlackReceiver):
    """A webhook that answers only after ``delay`` seconds (40 s: slower than any of our bounds).

    ``arrived`` is set when a POST comes in; ``release`` lets the hanging handlers answer at
    teardown. Posts answered late are kept apart (``late``) from the prompt ``messages``."""

    def __init__(self, delay: float = 40.0) -> None:
        super().__init__()
        self.delay = delay
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.late: list[dict[str, Any]] = []

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        if self.delay <= 0:
            return super().handle(method, path, body, headers)
        self.arrived.set()
        self.release.wait(self.delay)
        with self.lock:
            self.late.append(json.loads(body or b"{}"))
        return 200, b"ok", {"Content-Type": "text/plain"}

    def cleanup(self) -> None:
        self.release.set()
        super().cleanup()


@pytest.fixture
def slow_slack() -> Iterator[SlowSlack]:
    receiver = SlowSlack()
    receiver.start()
    yield receiver
    receiver.cleanup()


@pytest.fixture
def slow_setup(metrics: Metrics, slow_slack: SlowSlack, write_config: Callable[..., Path],
               connections: Callable[[dict[str, str]], None]) -> Callable[..., None]:
    def configure(**alerts: Any) -> None:
        connections({**metrics.prom.connection_env("maintenance_prometheus"),
                     **slow_slack.connection_env("maintenance_slack")})
        write_config({"alerts": {"prometheus_conn_id": "maintenance_prometheus", "queries": QUERIES,
                                 "for_seconds": 0, "slack_retry_delay_seconds": 0.05, "probe_services": False,
                                 **alerts}})
    return configure


def test_slow_slack_costs_its_bound_and_the_state_keeps_the_notice(metrics, slow_slack, slow_setup, tmp_path):
    slow_setup(slack_timeout_seconds=1, slack_attempts=2, slack_send_budget_seconds=30)
    metrics.set(test_cpu_percent=80)
    from airflow.providers.http.hooks.http import HttpHook  # noqa: F401  (imports are slow on a busy host:
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook  # noqa: F401  not part of the bound)

    store = MemoryStateStore()
    started = time.monotonic()
    with pytest.raises(StepFailed, match=r"alerts.notify .*not delivered after 2 attempts .*Timeout"):
        evaluate(store, T0, "r1")
    elapsed = time.monotonic() - started
    assert elapsed < 40, f"the evaluation waited for the slow Slack ({elapsed:.1f} s)"
    notify = parts(tmp_path, "r1")[0]["actions"][0]
    assert notify["status"] == "failed"
    assert notify["duration_s"] < 8, f"two 1-s attempts took {notify['duration_s']} s"
    # The alert is firing and notified-pending in the saved state, the notice in its outbox.
    record = store.state.alerts["host.cpu|" + metrics.instance + "|warning"]
    assert record.firing_since is not None
    assert [(n.kind, n.check) for n in store.state.outbox] == [("firing", "host.cpu")]
    assert slow_slack.messages == []
    # Slack answers promptly again: the kept notice goes out on the next run, once.
    slow_slack.delay = 0
    evaluate(store, T0 + timedelta(minutes=5), "r2")
    assert [m["text"].split(" — ")[0] for m in slow_slack.messages] == [
        f":large_yellow_circle: *FIRING* WARNING host.cpu on {metrics.instance}"]
    assert store.state.outbox == ()
    evaluate(store, T0 + timedelta(minutes=10), "r3")
    assert len(slow_slack.messages) == 1  # delivered: not repeated within the repeat interval


def test_state_is_saved_before_slack_is_called(metrics, slow_slack, slow_setup):
    """A run killed while Slack hangs (execution timeout, lost worker) loses nothing."""
    slow_setup(slack_timeout_seconds=60, slack_attempts=1)
    metrics.set(test_cpu_percent=95)
    store = MemoryStateStore()
    outcome: list[object] = []

    def hung_run() -> None:
        try:
            outcome.append(evaluate(store, T0, "r1"))
        except StepFailed as exc:
            outcome.append(exc)

    worker = threading.Thread(target=hung_run, daemon=True)
    worker.start()
    assert slow_slack.arrived.wait(20), "the evaluation never called Slack"
    # The run now hangs inside the POST. What it saved before calling Slack is all a killed
    # run leaves behind: take exactly that to the next run.
    saved = store.state
    assert store.saves == 1
    assert [(n.kind, n.severity, n.check) for n in saved.outbox] == [("firing", "critical", "host.cpu")]
    assert saved.alerts[f"host.cpu|{metrics.instance}|critical"].notified
    slow_slack.delay = 0
    next_store = MemoryStateStore(saved)
    evaluate(next_store, T0 + timedelta(minutes=5), "r2")
    fired = [m["text"] for m in slow_slack.messages if "FIRING* CRITICAL host.cpu" in m["text"]]
    assert len(fired) == 1, slow_slack.messages
    assert next_store.state.outbox == ()
    assert outcome == []  # the first run is still hanging in the POST all along
    slow_slack.release.set()
    worker.join(10)


# ------------------------------------------------------------------ window-aware alerting (issue 18 item 5)


def evaluate_in(store: MemoryStateStore, now: datetime, windows: list[str], run_id: str) -> None:
    execute_step(lambda step: evaluate_alerts(step, store=store, now=now, windows=lambda: windows),
                 context=context(run_id))


def test_alert_during_a_running_window_is_downgraded_and_kept_in_the_state(metrics, slack, setup, tmp_path):
    setup(during_window="downgrade", window_targets=["127.0.0.1"])
    metrics.set(test_cpu_percent=95)
    store = MemoryStateStore()
    evaluate_in(store, T0, ["maintenance_weekly"], "w1")
    [text] = cpu_messages(slack)
    assert "FIRING* WARNING host.cpu" in text
    assert "(during the maintenance_weekly maintenance window, downgraded from critical)" in text
    record = store.state.alerts[f"host.cpu|{metrics.instance}|warning"]
    assert record.window == "maintenance_weekly"
    assert record.firing_since is not None
    cpu = next(f for f in parts(tmp_path, "w1")[0]["findings"] if f["check"] == "host.cpu")
    assert (cpu["severity"], cpu["details"]["during_window"], cpu["details"]["alert_severity"]) == (
        "critical", "maintenance_weekly", "warning")  # the report keeps what was measured
    # The window is over and the CPU is still high: now it is a critical alert.
    evaluate_in(store, T0 + timedelta(minutes=5), [], "w2")
    assert "FIRING* CRITICAL host.cpu" in cpu_messages(slack)[-1]
    assert "maintenance window" not in cpu_messages(slack)[-1]


def test_annotated_alert_and_its_resolved_notice_say_the_window(metrics, slack, setup):
    setup(during_window="annotate")
    metrics.set(test_cpu_percent=95)
    store = MemoryStateStore()
    evaluate_in(store, T0, ["maintenance_monthly"], "a1")
    metrics.set(test_cpu_percent=10)
    evaluate_in(store, T0 + timedelta(minutes=5), ["maintenance_monthly"], "a2")
    fired, resolved = cpu_messages(slack)
    assert "FIRING* CRITICAL host.cpu" in fired
    assert "(during the maintenance_monthly maintenance window)" in fired
    assert "RESOLVED* CRITICAL host.cpu" in resolved
    assert "(during the maintenance_monthly maintenance window)" in resolved


def test_muted_alert_stays_in_the_state_and_fires_after_the_window(metrics, slack, setup):
    setup(during_window="mute", window_targets=["127.0.0.1"])
    metrics.set(test_cpu_percent=95)
    store = MemoryStateStore()
    evaluate_in(store, T0, ["maintenance_weekly"], "m1")
    assert cpu_messages(slack) == []
    record = store.state.alerts[f"host.cpu|{metrics.instance}|critical"]
    assert record.firing_since is not None
    assert not record.notified
    evaluate_in(store, T0 + timedelta(minutes=5), ["maintenance_weekly"], "m2")
    assert cpu_messages(slack) == []
    # A target the window does not touch is not muted.
    setup(during_window="mute", window_targets=["db-host-only"])
    evaluate_in(store, T0 + timedelta(minutes=6), ["maintenance_weekly"], "m3")
    [text] = cpu_messages(slack)
    assert "FIRING* CRITICAL host.cpu" in text
    assert f"since {T0.isoformat()}" in text  # firing since the first evaluation, kept through the mute
