"""The console app over a real report store: every route, auth (Airflow's own JWTs), the JSON
shape of docs/ui.md, the metrics exposition, the incremental index — and a real Prometheus
scraping ``/maintenance/metrics`` with a bearer token."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from mercenary_dev import servers, synthetic
from prometheus_client.parser import text_string_to_metric_families

from mercenary_maintenance.console.app import Console, create_app
from mercenary_maintenance.report.build import render_markdown
from mercenary_maintenance.report.store import open_store
from mercenary_maintenance.windows.rules import UTC

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
DAYS = 100


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("console") / "reports"
    count = synthetic.populate(open_store(f"file://{root}"), NOW, days=DAYS)
    assert count > 700
    return root


@pytest.fixture
def config(reports: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "maintenance.yaml"
    path.write_text(yaml.safe_dump({
        "reports": {"url": f"file://{reports}"},
        "targets": {"postgres": [{"name": "main"}], "redis": [{"name": "cache"}],
                    "http": [{"name": "api", "url": "https://api.example.invalid"}]},
        "console": {"cache_dir": str(tmp_path / "cache"), "refresh_seconds": 0},
    }))
    monkeypatch.setenv("MAINTENANCE_CONFIG", str(path))
    return path


@pytest.fixture(scope="module")
def auth_manager(airflow_db: Path) -> Any:
    from airflow.api_fastapi.app import init_auth_manager

    return init_auth_manager()


@pytest.fixture(scope="module")
def token(auth_manager: Any) -> str:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return str(auth_manager.generate_jwt(SimpleAuthManagerUser(username="ops", role="viewer")))


@pytest.fixture
def client(config: Path, auth_manager: Any) -> TestClient:
    return TestClient(create_app(Console(clock=lambda: NOW)))


ROUTES = ["/", "/trends", "/plan", "/api/status", "/metrics",
          "/runs/backup_full/scheduled__2026-11-30T01:00:00+00:00"]


# ------------------------------------------------------------------ auth


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_refuses_a_request_without_token(client: TestClient, route: str) -> None:
    response = client.get(route)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_answers_an_airflow_jwt(client: TestClient, token: str, route: str) -> None:
    response = client.get(route, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text[:500]


def test_the_ui_cookie_is_accepted_like_the_bearer_token(client: TestClient, token: str) -> None:
    client.cookies.set("_token", token)
    assert client.get("/api/status").status_code == 200


def test_forged_expired_and_garbage_tokens_are_401(client: TestClient, token: str) -> None:
    from airflow.api_fastapi.auth.tokens import JWTGenerator

    forged = JWTGenerator(secret_key="not-the-api-server-secret", valid_for=3600, audience="apache-airflow",
                          algorithm="HS512").generate({"sub": "ops", "role": "admin"})
    expired = JWTGenerator(secret_key="x", valid_for=-60, audience="apache-airflow").generate({"sub": "ops"})
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (forged, expired, tampered, "garbage"):
        response = client.get("/api/status", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401, bad
    # A bad explicit token is not rescued by a good cookie (Airflow's own precedence).
    client.cookies.set("_token", token)
    assert client.get("/api/status", headers={"Authorization": "Bearer garbage"}).status_code == 401


def test_a_browser_without_login_gets_a_login_link(client: TestClient) -> None:
    response = client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 401
    assert "/auth/login/?next=" in response.text


# ------------------------------------------------------------------ data


def test_status_json_has_the_design_shape(client: TestClient, token: str) -> None:
    data = client.get("/api/status", headers={"Authorization": f"Bearer {token}"}).json()
    assert set(data) == {"targets", "runs", "next_windows"}
    kinds = [(t["kind"], t["name"]) for t in data["targets"]]
    assert kinds == [("postgres", "main"), ("redis", "cache"), ("http", "api")]
    for target in data["targets"]:
        assert set(target) == {"kind", "name", "worst", "areas", "last_full_backup_age_s", "last_restore_test"}
        assert target["worst"] in {"ok", "warning", "critical", "unknown"}
    pg, redis, http = data["targets"]
    # backup_full runs daily at 01:00 and finishes 1-20 min later: yesterday's is the last one before NOW.
    assert 23 * 3600 < pg["last_full_backup_age_s"] < 25 * 3600
    assert set(pg["last_restore_test"]) == {"ok", "duration_s", "at"}
    assert pg["last_restore_test"]["duration_s"] > 0
    assert {"postgres", "backup", "services"} <= set(pg["areas"])
    assert set(redis["areas"]) == {"redis", "services"}
    assert http["worst"] == "warning"
    assert http["areas"]["http"]["message"] == "Content-Security-Policy missing"
    assert redis["last_full_backup_age_s"] is None
    runs = {r["dag_id"]: r for r in data["runs"]}
    assert set(runs) == {"backup_full", "backup_incremental", "maintenance_daily", "maintenance_weekly",
                         "maintenance_monthly", "maintenance_quarterly", "emergency_maintenance"}
    assert all(set(r) == {"dag_id", "run_id", "status", "finished_at"} for r in data["runs"])
    assert runs["backup_incremental"]["run_id"] == "scheduled__2026-12-01T20:00:00+00:00"
    windows = data["next_windows"]
    assert all(set(w) == {"dag_id", "start", "end"} for w in windows)
    weekly = [w for w in windows if w["dag_id"] == "maintenance_weekly"]
    assert len(weekly) == 8
    assert weekly[0]["start"] == "2026-12-06T02:00:00+00:00"
    assert [w["start"] for w in windows if w["dag_id"] == "maintenance_monthly"][:2] == [
        "2026-12-06T01:00:00+00:00", "2027-01-03T01:00:00+00:00"]
    assert [w["start"] for w in windows if w["dag_id"] == "maintenance_quarterly"] == ["2027-01-02T00:00:00+00:00"]


def test_a_new_critical_finding_shows_on_the_next_request(client: TestClient, token: str, reports: Path,
                                                          config: Path, tmp_path: Path) -> None:
    mine = tmp_path / "reports"
    shutil.copytree(reports, mine)
    data = yaml.safe_load(config.read_text())
    data["reports"]["url"] = f"file://{mine}"
    config.write_text(yaml.safe_dump(data))
    headers = {"Authorization": f"Bearer {token}"}
    before = client.get("/api/status", headers=headers).json()
    assert before["targets"][1]["worst"] in {"ok", "warning"}
    report = synthetic.report("maintenance_daily", NOW - timedelta(minutes=30), __import__("random").Random(1))
    report["run_id"] = "manual__console-test"
    report["findings"] = [{"check": "redis.memory", "target": "cache", "severity": "critical", "value": 97.0,
                           "threshold": 95, "message": "used 97% of maxmemory", "details": {}}]
    report["status"] = "critical"
    open_store(f"file://{mine}").write_report(report, render_markdown(report))
    after = client.get("/api/status", headers=headers).json()
    redis = after["targets"][1]
    assert redis["worst"] == "critical"
    assert redis["areas"]["redis"]["message"] == "used 97% of maxmemory"
    assert {r["dag_id"]: r["run_id"] for r in after["runs"]}["maintenance_daily"] == "manual__console-test"


def test_pages_render_their_content(client: TestClient, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    overview = client.get("/", headers=headers).text
    assert overview.count('class="target"') == 3
    assert "Content-Security-Policy missing" in overview
    assert 'id="windows"' in overview
    assert "2026-12-06 02:00" in overview
    trends = client.get("/trends", headers=headers).text
    charts = dict(re.findall(r'id="chart-([a-z_]+)" data-points="(\d+)"', trends))
    assert set(charts) == {"dead_tuples", "backup_size_bytes", "backup_duration_s", "restore_duration_s",
                           "restore_phase_s", "redis_used_memory_bytes", "redis_fragmentation_ratio", "disk_percent"}
    assert all(int(n) > 0 for n in charts.values()), charts
    assert trends.count("<svg") == 8
    assert "<script" not in trends
    assert "kozea.github.io" not in trends
    short = client.get("/trends?days=7", headers=headers).text
    assert int(re.search(r'id="chart-backup_size_bytes" data-points="(\d+)"', short)[1]) <= 7
    plan = client.get("/plan", headers=headers).text
    assert "maintenance_daily.health.check_services" in plan
    assert "Verify all services are running" in plan
    report = client.get("/runs/backup_full/scheduled__2026-11-30T01:00:00+00:00", headers=headers).text
    assert "backup.full" in report
    assert 'id="findings"' in report
    missing = client.get("/runs/backup_full/nope", headers=headers)
    assert missing.status_code == 404
    assert "No report" in missing.text


def test_plan_compliance_marks_what_did_not_run_as_overdue(client: TestClient, token: str) -> None:
    html = client.get("/plan", headers={"Authorization": f"Bearer {token}"}).text
    rows = re.findall(r'<tr class="item( overdue)?">.*?<code>([a-z_.]+)</code>', html, re.S)
    state = {task: bool(flag) for flag, task in rows}
    # the synthetic daily runs record this task, the last one yesterday
    assert state["maintenance_daily.health.check_services"] is False
    # a task no run ever recorded is overdue (never ran) …
    assert state["maintenance_daily.health.check_host"] is True
    # … but emergency tasks have no cadence
    assert state["emergency_maintenance.validate_request"] is False
    # the weekly run of Sunday's window (NOW is the Wednesday after) wrote its report
    assert state["maintenance_weekly.write_report"] is False
    assert state["maintenance_quarterly.write_report"] is False


def test_bad_config_is_a_clear_503(client: TestClient, token: str, config: Path) -> None:
    config.write_text("console: {trend_days: 0}\n")
    response = client.get("/api/status", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert "console.trend_days" in response.json()["detail"]


# ------------------------------------------------------------------ metrics


def test_metrics_use_the_design_names_and_parse(client: TestClient, token: str) -> None:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert {"mercenary_finding_severity", "mercenary_backup_age_seconds", "mercenary_restore_test_success",
            "mercenary_restore_test_duration_seconds", "mercenary_last_run_timestamp_seconds"} <= set(families)
    sev = {(s.labels["check"], s.labels["target"], s.labels["dag_id"]): s.value
           for s in families["mercenary_finding_severity"].samples}
    assert sev[("http.security_headers", "api", "maintenance_daily")] == 1
    assert all(v in (0, 1, 2, 3) for v in sev.values())
    ages = {(s.labels["target"], s.labels["kind"]): s.value for s in families["mercenary_backup_age_seconds"].samples}
    assert 23 * 3600 < ages[("main", "full")] < 25 * 3600
    assert ages[("main", "incremental")] < 6 * 3600
    last = {(s.labels["dag_id"], s.labels["status"]): s.value
            for s in families["mercenary_last_run_timestamp_seconds"].samples}
    newest = max(v for (d, _), v in last.items() if d == "backup_incremental")
    assert NOW.timestamp() - 6 * 3600 < newest < NOW.timestamp()
    success = [s.value for s in families["mercenary_restore_test_success"].samples]
    assert success in ([0.0], [1.0])
    # the RTO measure of the last restore test, and its phases where it recorded them
    rto = {(s.labels["target"], s.labels["phase"]): s.value for s in families["mercenary_restore_seconds"].samples}
    assert rto[("main", "total")] > 0
    assert {"download", "restore", "post_data", "verify"} <= {phase for _, phase in rto}


@pytest.fixture
def live_console(client: TestClient) -> Iterator[str]:
    import uvicorn

    port = servers.free_port()
    server = uvicorn.Server(uvicorn.Config(client.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    servers.wait_for_port(port, timeout=20)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _query(prom: servers.PrometheusServer, expr: str) -> list[dict[str, Any]]:
    url = f"{prom.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as response:
        return list(json.load(response)["data"]["result"])


def test_prometheus_scrapes_the_console_with_a_bearer_token(live_console: str, token: str) -> None:
    prom = servers.PrometheusServer(scrape_targets=[live_console], metrics_path="/metrics",
                                    bearer_token=token).start()
    anonymous = servers.PrometheusServer(scrape_targets=[live_console], metrics_path="/metrics").start()
    try:
        deadline = time.monotonic() + 30
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not result:
            result = _query(prom, 'mercenary_backup_age_seconds{target="main",kind="full"}')
            time.sleep(0.5)
        assert result, "Prometheus never stored the console's backup age"
        assert 23 * 3600 < float(result[0]["value"][1]) < 25 * 3600
        severity = _query(prom, 'mercenary_finding_severity{check="http.security_headers"}')
        assert float(severity[0]["value"][1]) == 1
        # Without the token the scrape is refused (401): Prometheus marks the target down.
        up = _query(anonymous, "up")
        while time.monotonic() < deadline and not up:
            time.sleep(0.5)
            up = _query(anonymous, "up")
        assert up
        assert float(up[0]["value"][1]) == 0
        assert not _query(anonymous, "mercenary_backup_age_seconds")
    finally:
        prom.cleanup()
        anonymous.cleanup()


def test_inert_plan_items_show_as_not_configured_never_green(client: TestClient, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    html = client.get("/plan", headers=headers).text
    row = re.search(r'<tr class="item[^"]*not-configured">(?:(?!</tr>).)*?maintenance_daily\.health\.'
                    r"check_closed_ports(?:(?!</tr>).)*</tr>", html, re.S)
    assert row is not None, "the closed-ports task (security.closed_ports empty) is not marked"
    assert "sev-not-configured" in row[0]
    assert "sev-ok" not in row[0]
    assert "sev-success" not in row[0]
    assert "<code>security.closed_ports</code>" in row[0]
    # configured here (an https target): shown with its outcome, not as not configured
    assert not re.search(r'not-configured">(?:(?!</tr>).)*?check_tls_certificates', html, re.S)
    count = int(re.search(r'id="not-configured-count">(\d+)<', html)[1])
    assert count >= 10
    overview = client.get("/", headers=headers).text
    assert f"{count} plan item(s) not configured" in overview


def test_a_scoped_index_sees_only_its_dags(client: TestClient, token: str, config: Path) -> None:
    from mercenary_maintenance.console.auth import DagScope

    client.get("/api/status", headers={"Authorization": f"Bearer {token}"})  # fills the cache
    index = client.app.state.console.load()[1]  # type: ignore[attr-defined]
    assert {"maintenance_daily", "backup_full"} <= set(index.dag_ids())
    daily = index.scoped({"maintenance_daily"})
    assert {r["dag_id"] for r in daily.last_runs()} == {"maintenance_daily"}
    assert {f["dag_id"] for f in daily.latest_findings()} == {"maintenance_daily"}
    assert {d for d, _, _ in daily.last_by_status()} == {"maintenance_daily"}
    assert daily.event_targets("backup.full") == []
    assert daily.last_event("backup.full", "main", ok_only=True) is None
    assert index.last_event("backup.full", "main", ok_only=True) is not None
    assert 0 < daily.run_count() < index.run_count()
    assert index.scoped(()).run_count() == 0
    assert index.dags is None  # the shared index itself stays unscoped

    class OnlyDaily:  # the two auth manager calls the console makes
        def __init__(self) -> None:
            self.asked: list[str] = []

        def filter_authorized_dag_ids(self, *, dag_ids: set[str], user: object, method: str) -> set[str]:
            return {d for d in dag_ids if d != "backup_full"}

        def is_authorized_dag(self, *, method: str, user: object, access_entity: object, details: object) -> bool:
            self.asked.append(getattr(details, "id", ""))
            return getattr(details, "id", "") == "maintenance_daily"

    manager = OnlyDaily()
    scope = DagScope(user=object(), manager=manager, multi_team=False)
    assert scope.readable(index.dag_ids()) == {"maintenance_daily"}
    assert "backup_full" not in manager.asked  # refused by the batch call already
    assert scope.allows("maintenance_daily")
    assert not scope.allows("backup_full")


def test_in_multi_team_mode_only_the_team_aware_dag_list_qualifies() -> None:
    from mercenary_maintenance.console.auth import DagScope

    class TeamBlind:  # per-DAG answers that know no team; the DAG list knows them
        def get_authorized_dag_ids(self, *, user: object, method: str) -> set[str]:
            return {"maintenance_daily"}

        def filter_authorized_dag_ids(self, *, dag_ids: set[str], user: object, method: str) -> set[str]:
            return set(dag_ids)

        def is_authorized_dag(self, *, method: str, user: object, access_entity: object, details: object) -> bool:
            return True

    scope = DagScope(user=object(), manager=TeamBlind(), multi_team=True)
    assert scope.readable({"maintenance_daily", "backup_full"}) == {"maintenance_daily"}
    assert not scope.allows("backup_full")
    assert DagScope(user=object(), manager=TeamBlind(), multi_team=False).allows("backup_full")
