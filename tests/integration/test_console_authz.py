"""The console shows each user only the DAGs the auth manager lets them read — against a real
``airflow api-server`` (the plugin mounted by Airflow, tokens from its ``/auth/token``).

SimpleAuthManager cannot grant one user one DAG, so the api-server runs the test-only
``mercenary_dev.authz.PerDagAuthManager`` (SimpleAuthManager plus ``$MM_DAG_ACCESS``): the
console asks it the standard questions (``is_authorized_dag``, ``filter_authorized_dag_ids``)
as it would ask FAB or Keycloak.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.airflow_ui import USER, AirflowUI

DAILY_ONLY = "daily_ops"


@pytest.fixture(scope="module")
def ui(airflow_db: Path) -> Iterator[AirflowUI]:
    server = AirflowUI(migrated_db=airflow_db / "airflow.db", dag_files=(), seeded_days=10,
                       users={USER: "admin", DAILY_ONLY: "viewer"},
                       extra_env={"AIRFLOW__CORE__AUTH_MANAGER": "mercenary_dev.authz.PerDagAuthManager",
                                  "MM_DAG_ACCESS": json.dumps({DAILY_ONLY: ["maintenance_daily"]})}).start()
    try:
        yield server
    finally:
        server.cleanup()


def get(ui: AirflowUI, path: str, token: str, accept: str = "*/*") -> tuple[int, str]:
    request = urllib.request.Request(f"{ui.url}/maintenance{path}",
                                     headers={"Authorization": f"Bearer {token}", "Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def run_id(ui: AirflowUI, dag_id: str) -> str:
    return sorted(p.name for p in (ui.reports / dag_id).iterdir() if p.is_dir())[-1]


def dags_in_metrics(text: str) -> dict[str, set[str]]:
    """metric name → the dag_id labels of its samples."""
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "dag_id" in sample.labels:
                out.setdefault(family.name, set()).add(sample.labels["dag_id"])
    return out


def gauge(text: str, name: str) -> float:
    return next(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


def test_a_user_allowed_one_dag_gets_403_on_another_dags_report(ui: AirflowUI) -> None:
    token = ui.token(DAILY_ONLY)
    full = run_id(ui, "backup_full")
    status, body = get(ui, f"/runs/backup_full/{full}", token)
    assert status == 403, body[:300]
    assert "backup_full" in body
    # The run tab (a browser) gets a page saying so.
    status, html = get(ui, f"/runs/backup_full/{full}", token, accept="text/html")
    assert status == 403
    assert "Not allowed" in html
    # A run that does not exist is 403 too: a refused user does not learn which runs exist.
    assert get(ui, "/runs/backup_full/manual__no-such-run", token)[0] == 403
    status, body = get(ui, f"/runs/maintenance_daily/{run_id(ui, 'maintenance_daily')}", token)
    assert status == 200, body[:300]
    # The admin reads both.
    admin = ui.token()
    assert get(ui, f"/runs/backup_full/{full}", admin)[0] == 200


def test_metrics_carry_only_the_readable_dags_and_say_what_is_left_out(ui: AirflowUI) -> None:
    status, text = get(ui, "/metrics", ui.token(DAILY_ONLY))
    assert status == 200, text[:300]
    seen = dags_in_metrics(text)
    assert seen["mercenary_finding_severity"] == {"maintenance_daily"}
    assert seen["mercenary_last_run_timestamp_seconds"] == {"maintenance_daily"}
    assert "backup_full" not in text  # no series, no label value, nowhere
    # Backup ages and restore tests come from backup_full runs: left out as well.
    assert not any(s.name == "mercenary_backup_age_seconds" for f in text_string_to_metric_families(text)
                   for s in f.samples)
    assert gauge(text, "mercenary_metrics_hidden_dags") >= 1

    status, text = get(ui, "/metrics", ui.token())
    assert status == 200
    seen = dags_in_metrics(text)
    assert {"maintenance_daily", "backup_full"} <= seen["mercenary_last_run_timestamp_seconds"]
    assert gauge(text, "mercenary_metrics_hidden_dags") == 0
    assert gauge(text, "mercenary_backup_age_seconds") >= 0


def test_lists_pages_and_status_leave_out_the_unreadable_dags(ui: AirflowUI) -> None:
    token = ui.token(DAILY_ONLY)
    status, body = get(ui, "/api/status", token)
    assert status == 200
    data = json.loads(body)
    assert {r["dag_id"] for r in data["runs"]} == {"maintenance_daily"}
    main = next(t for t in data["targets"] if t["name"] == "main")
    assert main["last_full_backup_age_s"] is None
    assert main["last_restore_test"] is None
    assert all(a["dag_id"] == "maintenance_daily" for t in data["targets"] for a in t["areas"].values())
    assert data["next_windows"] == []  # the window DAGs' schedules are theirs too
    for page in ("/", "/plan", "/trends"):
        status, html = get(ui, page, token)
        assert status == 200, (page, html[:300])
        assert "/runs/backup_full/" not in html, page
    # The admin's overview lists every DAG's last run.
    admin = json.loads(get(ui, "/api/status", ui.token())[1])
    assert {"maintenance_daily", "backup_full", "backup_incremental"} <= {r["dag_id"] for r in admin["runs"]}
    assert {w["dag_id"] for w in admin["next_windows"]} >= {"maintenance_weekly", "maintenance_monthly"}
