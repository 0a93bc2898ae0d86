"""Paging (issue 28): outages found by alert_evaluation's probes reach Slack and a real Alertmanager
as P1; what has no data turns into monitoring.blind; the watchdog is in Alertmanager after each run."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mercenary_dev import servers

from mercenary_maintenance.alerts.bodies import evaluate_alerts
from mercenary_maintenance.alerts.store import MemoryStateStore
from mercenary_maintenance.steps import execute_step
from mercenary_maintenance.wiring import registry

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def app_pg() -> Iterator[servers.PostgresServer]:
    """A PostgreSQL of this module's own: the test stops and restarts it."""
    server = servers.PostgresServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def sink() -> Iterator[servers.WebhookSink]:
    receiver = servers.WebhookSink().start()
    yield receiver
    receiver.cleanup()


@pytest.fixture(scope="module")
def alertmanager(sink: servers.WebhookSink) -> Iterator[servers.AlertmanagerServer]:
    server = servers.AlertmanagerServer(webhook_url=f"{sink.url}/hook").start()
    deadline = time.monotonic() + 30
    while True:  # the port opens before the API answers
        try:
            server.alerts()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    yield server
    server.cleanup()


def context(run_id: str) -> dict[str, Any]:
    dag_run = SimpleNamespace(dag_id="alert_evaluation", run_id=run_id, run_type="manual", logical_date=None,
                              triggering_user_name=None, data_interval_start=None, data_interval_end=None)
    return {"dag_run": dag_run, "ti": SimpleNamespace(task_id="evaluate_alerts", map_index=-1, try_number=1),
            "params": {}}


def evaluate(store: MemoryStateStore, run_id: str, now: datetime | None = None) -> dict[str, Any]:
    """One run of the task body as the DAG wires it (probes from the registry), no running windows."""
    body = partial(evaluate_alerts, probes=registry.SERVICE_PROBES, store=store, now=now, windows=list)
    return execute_step(body, context=context(run_id))


def findings(tmp_path: Path, run_id: str) -> list[dict[str, Any]]:
    folder = tmp_path / "reports" / "alert_evaluation" / run_id / "parts"
    return [f for p in sorted(folder.glob("*.json")) for f in json.loads(p.read_text())["findings"]]


def texts(slack: servers.SlackReceiver, needle: str) -> list[str]:
    return [m["text"] for m in slack.messages if needle in m["text"]]


def wait_for(what: str, probe: Callable[[], Any], seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {seconds} s")


def held(am: servers.AlertmanagerServer, alertname: str, **labels: str) -> list[dict[str, Any]]:
    return [a for a in am.alerts() if a["labels"].get("alertname") == alertname
            and all(a["labels"].get(k) == v for k, v in labels.items())]


def dead_port_pg(conn_id: str) -> dict[str, str]:
    return {f"AIRFLOW_CONN_{conn_id.upper()}": f"postgresql://u:p@127.0.0.1:{servers.free_port()}/postgres"}


def test_postgres_outage_pages_p1_on_slack_and_alertmanager_then_resolves(
        app_pg, redis_server, alertmanager, sink, slack, write_config, connections, tmp_path):
    connections({**app_pg.connection_env("paging_pg"), **redis_server.connection_env("paging_redis"),
                 **alertmanager.connection_env("paging_am"), **slack.connection_env("maintenance_slack")})
    write_config({"targets": {"postgres": [{"name": "main", "conn_id": "paging_pg"}],
                              "redis": [{"name": "cache", "conn_id": "paging_redis"}]},
                  "host": {"paths": []},
                  "timeouts": {"postgres": {"connect_s": 2}},
                  "alerts": {"routes": ["slack", "alertmanager"], "alertmanager_conn_id": "paging_am",
                             "primary_oncall": "U0PRIMARY", "slack_retry_delay_seconds": 0.05}})
    store = MemoryStateStore()
    evaluate(store, "r1")
    assert {(f["target"], f["severity"]) for f in findings(tmp_path, "r1") if f["check"] == "services.status"} == {
        ("postgres:main", "ok"), ("redis:cache", "ok")}
    assert held(alertmanager, "MercenaryWatchdog"), "watchdog missing after run 1"

    app_pg.stop()
    evaluate(store, "r2")  # first failed probe: pending (outage_after_failures: 2)
    assert texts(slack, "services.status") == []
    assert held(alertmanager, "MercenaryWatchdog"), "watchdog missing after run 2"
    pg = next(f for f in findings(tmp_path, "r2") if f["target"] == "postgres:main")
    assert pg["severity"] == "critical"
    assert pg["details"]["alert_critical"].startswith("pending since")

    evaluate(store, "r3")  # second failed probe: the outage pages
    [page] = texts(slack, "services.status")
    assert "FIRING* CRITICAL services.status on postgres:main" in page
    assert "incident P1 (respond within 15 min)" in page
    assert "<@U0PRIMARY>" in page
    [alert] = held(alertmanager, "services.status", target="postgres:main")
    assert alert["labels"] | {"dag_id": "alert_evaluation"} == {
        "alertname": "services.status", "target": "postgres:main", "severity": "critical", "level": "P1",
        "dag_id": "alert_evaluation"}
    assert alert["status"]["state"] == "active"
    assert held(alertmanager, "MercenaryWatchdog"), "watchdog missing after run 3"
    received = wait_for("Alertmanager's webhook got the P1", lambda: [
        a for a in sink.alerts() if a["labels"].get("target") == "postgres:main" and a["status"] == "firing"])
    assert received[0]["labels"]["level"] == "P1"
    assert not held(alertmanager, "services.status", target="redis:cache")

    app_pg._ctl("start", "-w", "-t", "60", "-l", str(app_pg.log_file))
    evaluate(store, "r4")
    [_, resolved] = texts(slack, "services.status")
    assert "RESOLVED* CRITICAL services.status on postgres:main" in resolved
    assert "incident P1 (respond within 15 min) is over" in resolved
    wait_for("Alertmanager's webhook got the resolution", lambda: [
        a for a in sink.alerts() if a["labels"].get("target") == "postgres:main" and a["status"] == "resolved"])
    [watchdog] = held(alertmanager, "MercenaryWatchdog")
    # The watchdog expires on its own ttl when runs stop: it ends no later than a ttl after this run.
    ends = datetime.fromisoformat(watchdog["endsAt"].replace("Z", "+00:00"))
    assert ends <= datetime.now(UTC) + timedelta(seconds=900 + 5)


def test_an_acknowledged_p1_is_not_escalated_until_the_silence_ends(
        alertmanager, slack, write_config, connections):
    connections({**dead_port_pg("paging_dead"), **alertmanager.connection_env("paging_am"),
                 **slack.connection_env("maintenance_slack")})
    write_config({"targets": {"postgres": [{"name": "gone", "conn_id": "paging_dead"}], "redis": []},
                  "host": {"paths": []},
                  "alerts": {"routes": ["slack", "alertmanager"], "alertmanager_conn_id": "paging_am",
                             "outage_after_failures": 1, "primary_oncall": "U0PRIMARY",
                             "secondary_oncall": "U0SECOND", "slack_retry_delay_seconds": 0.05}})
    store = MemoryStateStore()
    now = datetime.now(UTC)
    evaluate(store, "a1", now)
    assert len(texts(slack, "FIRING* CRITICAL services.status on postgres:gone")) == 1
    silence = alertmanager.silence({"alertname": "services.status", "target": "postgres:gone"})
    wait_for("Alertmanager shows the silence", lambda: [
        a for a in held(alertmanager, "services.status", target="postgres:gone") if a["status"]["silencedBy"]])
    evaluate(store, "a2", now + timedelta(minutes=16))  # past P1's 15 min, but acknowledged
    assert texts(slack, "ESCALATED") == []
    request = urllib.request.Request(f"{alertmanager.url}/api/v2/silence/{urllib.parse.quote(silence)}",
                                     method="DELETE")
    urllib.request.urlopen(request, timeout=5).close()
    evaluate(store, "a3", now + timedelta(minutes=17))
    [escalated] = texts(slack, "ESCALATED")
    assert "escalated to <@U0SECOND>" in escalated


def test_prometheus_black_holed_longer_than_blind_after_raises_monitoring_blind(
        slack, write_config, connections, tmp_path):
    hole = servers.BlackHole().start()
    try:
        connections({"AIRFLOW_CONN_MAINTENANCE_PROMETHEUS": json.dumps({"conn_type": "http", "host": hole.url}),
                     **slack.connection_env("maintenance_slack")})
        write_config({"targets": {"postgres": [], "redis": []},
                      "timeouts": {"http": {"connect_s": 1, "read_s": 1}},
                      "alerts": {"prometheus_conn_id": "maintenance_prometheus", "prometheus_timeout_seconds": 1,
                                 "blind_after_minutes": 15, "slack_retry_delay_seconds": 0.05}})
        store = MemoryStateStore()
        for i, minutes in enumerate((0, 5, 10)):
            evaluate(store, f"b{i}", T0 + timedelta(minutes=minutes))
        assert texts(slack, "monitoring.blind") == []  # 10 min without data: not yet blind
        evaluate(store, "b3", T0 + timedelta(minutes=15))
    finally:
        hole.stop()
    blind = texts(slack, "monitoring.blind")
    assert any("FIRING* WARNING monitoring.blind on app.error_rate/all" in t for t in blind), blind
    page = next(t for t in blind if "app.error_rate/all" in t)
    assert "incident P3 (respond within 4 h)" in page
    assert "has had no data for 15 min" in page
    assert "Prometheus query failed" in page  # why it is blind
    found = [f for f in findings(tmp_path, "b3") if f["check"] == "monitoring.blind"]
    assert {f["target"] for f in found} >= {"app.error_rate/all", "host.cpu/all"}
    assert all(f["severity"] == "warning" for f in found)


@pytest.fixture(scope="module")
def prometheus() -> Iterator[servers.PrometheusServer]:
    exporter = servers.MetricsExporter(metrics={"test_cpu_percent": 10.0, "test_memory_percent": 20.0,
                                                "test_disk_percent": 30.0}).start()
    prom = servers.PrometheusServer(scrape_targets=[f"127.0.0.1:{exporter.port}"], scrape_interval="1s").start()

    def scraped() -> bool:
        url = f"{prom.url}/api/v1/query?" + urllib.parse.urlencode({"query": "test_cpu_percent"})
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return bool(json.loads(resp.read())["data"]["result"])
        except OSError:
            return False

    wait_for("Prometheus scraped the exporter", scraped, 30)
    yield prom
    prom.cleanup()
    exporter.cleanup()


def test_app_series_absent_while_its_http_probe_fails_is_the_p1_outage_not_blindness(
        prometheus, slack, write_config, connections, tmp_path):
    connections({**prometheus.connection_env("maintenance_prometheus"), **slack.connection_env("maintenance_slack")})
    write_config({"targets": {"postgres": [], "redis": [],
                              "http": [{"name": "api", "url": f"http://127.0.0.1:{servers.free_port()}/health",
                                        "timeout_seconds": 2}]},
                  "alerts": {"prometheus_conn_id": "maintenance_prometheus", "slack_retry_delay_seconds": 0.05,
                             "queries": {"host.cpu": "test_cpu_percent", "host.memory": "test_memory_percent",
                                         "host.disk_usage": "test_disk_percent",
                                         # The application's series are gone (it is down): no data.
                                         "app.error_rate": "test_http_errors_percent",
                                         "app.latency_p95": "test_http_p95_seconds"}}})
    store = MemoryStateStore()
    for i, minutes in enumerate((0, 5, 10, 15, 20)):
        evaluate(store, f"o{i}", T0 + timedelta(minutes=minutes))
    # Fires at the 2nd run (5 min), escalated 15 min later (P1's response time, not acknowledged).
    [page, escalated] = texts(slack, "services.status")
    assert "FIRING* CRITICAL services.status on http:api" in page
    assert "incident P1 (respond within 15 min)" in page
    assert "ESCALATED* CRITICAL services.status on http:api" in escalated
    assert texts(slack, "monitoring.blind") == [], "no data from a down application is the outage, not blindness"
    last = findings(tmp_path, "o4")
    app = [f for f in last if f["check"].startswith("app.")]
    assert {f["severity"] for f in app} == {"unknown"}
    assert all("counted as the outage" in f["details"]["counted_as"] for f in app)
    assert not [f for f in last if f["check"] == "monitoring.blind"]
    assert store.state.unknown == {}


def test_probes_of_black_holed_targets_cost_their_bounds_not_the_run(slack, write_config, connections, tmp_path):
    """Targets that accept TCP and never answer: each probe ends at its client's bound, in parallel."""
    hole = servers.BlackHole().start()
    try:
        connections({"AIRFLOW_CONN_HOLE_PG": f"postgresql://u:p@127.0.0.1:{hole.port}/postgres",
                     "AIRFLOW_CONN_HOLE_REDIS": json.dumps({"conn_type": "redis", "host": "127.0.0.1",
                                                            "port": hole.port}),
                     **slack.connection_env("maintenance_slack")})
        write_config({"targets": {"postgres": [{"name": "hung", "conn_id": "hole_pg"}],
                                  "redis": [{"name": "hung", "conn_id": "hole_redis"}],
                                  "http": [{"name": "hung", "url": f"{hole.url}/health", "timeout_seconds": 2}]},
                      "host": {"paths": []},
                      "timeouts": {"postgres": {"connect_s": 2}, "redis": {"connect_s": 2, "read_s": 2}}})
        started = time.monotonic()
        evaluate(MemoryStateStore(), "h1")
        took = time.monotonic() - started
    finally:
        hole.stop()
    probed = {f["target"]: f for f in findings(tmp_path, "h1") if f["check"] == "services.status"}
    assert {t: f["severity"] for t, f in probed.items()} == {
        "postgres:hung": "critical", "redis:hung": "critical", "http:hung": "critical"}
    assert "timeout" in probed["postgres:hung"]["message"].lower()
    assert "timed out" in probed["redis:hung"]["message"].lower()
    # Three 2-s bounds in parallel, plus the run itself (imports, psutil) on a loaded machine.
    assert took < 20, f"the run took {took:.1f} s"


def test_the_watchdog_is_firing_after_each_run_and_expires_when_runs_stop(sink, write_config, connections):
    """The dead-man's switch: every run re-posts MercenaryWatchdog with endsAt = now + alertmanager_ttl_seconds;
    when runs stop, Alertmanager resolves it at that endsAt and tells the heartbeat receiver (the sink).
    The runs are dated 48 s in the past (ttl 60 s), so the expiry comes in seconds rather than a minute."""
    am = servers.AlertmanagerServer(webhook_url=f"{sink.url}/hook").start()  # its own: no older watchdog in it
    try:
        wait_for("Alertmanager answers", lambda: _answers(am))
        connections({**am.connection_env("watch_am"), **dead_port_pg("unused")})
        write_config({"targets": {"postgres": [], "redis": []}, "host": {"paths": []},
                      "alerts": {"routes": ["alertmanager"], "alertmanager_conn_id": "watch_am",
                                 "alertmanager_ttl_seconds": 60}})
        store = MemoryStateStore()
        ends = []
        for run in ("w1", "w2"):
            now = datetime.now(UTC) - timedelta(seconds=48)
            evaluate(store, run, now)
            [watchdog] = held(am, "MercenaryWatchdog")  # present, active, after each run
            assert watchdog["status"]["state"] == "active"
            ends.append(datetime.fromisoformat(watchdog["endsAt"].replace("Z", "+00:00")))
            time.sleep(1)
        assert ends[1] > ends[0]  # each run pushed the expiry further
        # runs stop: no longer active once its endsAt has passed, and the heartbeat receiver hears it resolve
        wait_for("the watchdog expires", lambda: not held(am, "MercenaryWatchdog"), seconds=20)
        assert datetime.now(UTC) >= ends[1]
        wait_for("the sink gets the resolved watchdog", lambda: [
            a for a in sink.alerts() if a["labels"].get("alertname") == "MercenaryWatchdog"
            and a["status"] == "resolved"], seconds=15)
    finally:
        am.cleanup()


def _answers(am: servers.AlertmanagerServer) -> bool:
    try:
        am.alerts()
    except OSError:
        return False
    return True
