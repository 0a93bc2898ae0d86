"""The console in a real browser: headless Chromium (Debian chromium + chromium-driver, driven
by Selenium) against a real ``airflow api-server`` with the plugin and seeded reports.

Log in, open Maintenance from the nav, check the overview's rows and a chart, open a run's
"Maintenance report" tab, then fill the emergency_maintenance trigger form and see the dry
run created (through REST). Screenshots go to ``tests/artifacts/`` (or ``$MM_ARTIFACTS``).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mercenary_dev import synthetic

from mercenary_maintenance.report.build import render_markdown
from mercenary_maintenance.report.store import open_store
from mercenary_maintenance.windows.rules import UTC
from tests.integration.airflow_ui import USER, AirflowUI, chrome

pytestmark = pytest.mark.browser

ARTIFACTS = Path(os.environ.get("MM_ARTIFACTS") or Path(__file__).resolve().parents[1] / "artifacts")
WAIT_S = 60
RUN_ID = "manual__console-browser-test"


@pytest.fixture(scope="module")
def ui(airflow_db: Path) -> Iterator[AirflowUI]:
    server = AirflowUI(migrated_db=airflow_db / "airflow.db").start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def browser(ui: AirflowUI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium.webdriver.common.by import By

    driver = chrome(tmp_path_factory.mktemp("chromium-profile"))
    try:
        driver.get(f"{ui.url}/")
        wait(driver)(lambda d: d.find_elements(By.NAME, "username"))
        driver.find_element(By.NAME, "username").send_keys(USER)
        driver.find_element(By.NAME, "password").send_keys(ui.password)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(driver)(lambda d: d.get_cookie("_token"))
        yield driver
    finally:
        driver.quit()


def wait(driver: Any) -> Callable[[Callable[[Any], Any]], Any]:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until


def shot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def test_the_console_opens_from_the_nav_with_rows_and_charts(ui: AirflowUI, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{ui.url}/")
    nav = wait(browser)(lambda d: d.find_elements(By.CSS_SELECTOR, "a[href$='/plugin/maintenance']"))
    assert nav[0].text == "Maintenance"
    nav[0].click()
    frame = wait(browser)(lambda d: d.find_elements(By.CSS_SELECTOR, "iframe[src*='/maintenance/']"))
    browser.switch_to.frame(frame[0])
    try:
        rows = wait(browser)(lambda d: d.find_elements(By.CSS_SELECTOR, "#targets tr.target"))
        assert [(r.get_attribute("data-kind"), r.get_attribute("data-name")) for r in rows] == [
            ("postgres", "main"), ("redis", "cache"), ("http", "api")]
        assert "Content-Security-Policy missing" in rows[2].text
        assert "PASSED" in rows[0].text or "FAILED" in rows[0].text  # the last restore test
        runs = browser.find_elements(By.CSS_SELECTOR, "#runs tr.run")
        assert len(runs) == 7  # every DAG of the seeded 100 days
        assert browser.find_elements(By.CSS_SELECTOR, "#windows tr")
        browser.switch_to.default_content()
        shot(browser, "overview")
        browser.switch_to.frame(frame[0])
        browser.find_element(By.LINK_TEXT, "Trends").click()
        chart = wait(browser)(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-backup_size_bytes svg"))
        assert chart[0].size["width"] > 300
        assert chart[0].size["height"] > 100
        lines = browser.find_elements(By.CSS_SELECTOR, "#chart-backup_size_bytes svg path.line")
        assert lines, "the backup size chart draws no line"
        browser.switch_to.default_content()
        shot(browser, "trends")
        browser.switch_to.frame(frame[0])
        browser.find_element(By.LINK_TEXT, "Plan compliance").click()
        items = wait(browser)(lambda d: d.find_elements(By.CSS_SELECTOR, "#plan tr.item"))
        assert len(items) > 40
        # Inert under this config (no security.closed_ports): shown as not configured with the key, not green.
        inert = browser.find_elements(By.CSS_SELECTOR, "#plan tr.item.not-configured")
        ports = [r for r in inert if "maintenance_daily.health.check_closed_ports" in r.text]
        assert ports, "the closed-ports task is not shown as not configured"
        assert "not configured" in ports[0].text
        assert "security.closed_ports" in ports[0].text
        assert not ports[0].find_elements(By.CSS_SELECTOR, ".sev-ok, .sev-success")
        assert int(browser.find_element(By.ID, "not-configured-count").text) >= 10
        browser.switch_to.default_content()
        shot(browser, "plan")
    finally:
        browser.switch_to.default_content()


def test_a_run_page_has_the_maintenance_report_tab(ui: AirflowUI, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    ui.rest("POST", "/api/v2/dags/maintenance_daily/dagRuns", {"logical_date": None, "dag_run_id": RUN_ID})
    report = synthetic.report("maintenance_daily", datetime.now(UTC) - timedelta(minutes=5), random.Random(5))
    report.update(run_id=RUN_ID, run_type="manual", status="warning")
    open_store(f"file://{ui.reports}").write_report(report, render_markdown(report))

    browser.get(f"{ui.url}/dags/maintenance_daily/runs/{RUN_ID}")
    tab = wait(browser)(lambda d: d.find_elements(By.XPATH, "//a[normalize-space()='Maintenance report']"))
    tab[0].click()
    frame = wait(browser)(lambda d: d.find_elements(By.CSS_SELECTOR, "iframe[src*='/maintenance/runs/']"))
    assert RUN_ID in frame[0].get_attribute("src")
    browser.switch_to.frame(frame[0])
    try:
        status = wait(browser)(lambda d: d.find_elements(By.ID, "run-status"))
        assert status[0].text == "WARNING"
        findings = browser.find_elements(By.CSS_SELECTOR, "#findings tr")
        assert len(findings) == 1 + len(report["findings"])
        assert "http.security_headers" in browser.find_element(By.ID, "findings").text
    finally:
        browser.switch_to.default_content()
    shot(browser, "report-tab")


def _combobox(browser: Any, label: str) -> Any:
    """The input of the UI's dropdown (a react-select) labelled ``label``."""
    from selenium.webdriver.common.by import By

    element = browser.find_element(By.XPATH, f"//label[@data-part='label'][starts-with(normalize-space(), '{label}')]")
    box = browser.find_element(By.ID, element.get_attribute("for"))
    assert box.get_attribute("role") == "combobox", f"{label} is not a dropdown"
    return box


def _options(browser: Any, label: str) -> list[str]:
    """Open a dropdown and read its options (then close it again)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = _combobox(browser, label)
    box.click()
    options = wait(browser)(lambda d: d.find_elements(By.CSS_SELECTOR, "[id*='-option-']"))
    texts = [o.text for o in options]
    box.send_keys(Keys.TAB)  # blur closes the menu (Escape would close the whole dialog)
    wait(browser)(lambda d: not d.find_elements(By.CSS_SELECTOR, "[id*='-option-']"))
    return texts


def _choose(browser: Any, label: str, hidden_name: str, value: str) -> None:
    from selenium.webdriver.common.by import By

    _combobox(browser, label).click()
    option = wait(browser)(lambda d: d.find_elements(
        By.XPATH, f"//*[contains(@id, '-option-') and normalize-space()='{value}']"))
    option[0].click()
    wait(browser)(lambda d: d.find_element(By.NAME, hidden_name).get_attribute("value") == value)


def test_emergency_trigger_form_submits_a_dry_run(ui: AirflowUI, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{ui.url}/dags/emergency_maintenance")
    wait(browser)(lambda d: d.find_elements(By.CSS_SELECTOR, "button[aria-label='Trigger Dag']"))[0].click()
    submit = wait(browser)(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=trigger-dag-submit]"))[0]
    # The fields: two dropdowns (enums), required free-text reason and ticket, dry run on by default.
    for name in ("element_action", "element_target", "element_reason", "element_ticket"):
        assert browser.find_element(By.NAME, name).get_attribute("required") == "true", name
    assert browser.find_element(By.NAME, "element_severity").get_attribute("value") == "non_critical"
    assert browser.find_element(By.NAME, "element_dry_run").is_selected()
    assert not submit.is_enabled(), "the form must refuse a request without action, target, reason and ticket"
    actions = _options(browser, "Action")
    assert {"vacuum_analyze", "reindex", "restore_test"} <= set(actions)
    assert set(_options(browser, "Severity")) == {"critical", "non_critical"}

    _choose(browser, "Action", "element_action", "vacuum_analyze")
    _choose(browser, "Severity", "element_severity", "critical")
    browser.find_element(By.NAME, "element_target").send_keys("main")
    browser.find_element(By.NAME, "element_objects").send_keys("demo.orders")
    browser.find_element(By.NAME, "element_reason").send_keys("browser test: dead tuples on demo.orders")
    assert not submit.is_enabled(), "the ticket is required"
    browser.find_element(By.NAME, "element_ticket").send_keys("OPS-4242")
    wait(browser)(lambda d: submit.is_enabled())
    shot(browser, "emergency-form")
    submit.click()

    token = ui.token()

    def created(_: Any) -> list[dict[str, Any]]:
        runs = ui.rest("GET", "/api/v2/dags/emergency_maintenance/dagRuns", token=token)["dag_runs"]
        return [r for r in runs if (r.get("conf") or {}).get("ticket") == "OPS-4242"]

    runs = wait(browser)(created)
    conf = runs[0]["conf"]
    assert conf["dry_run"] is True
    assert conf["action"] == "vacuum_analyze"
    assert conf["severity"] == "critical"
    assert conf["objects"] == ["demo.orders"]
    assert runs[0]["run_type"] == "manual"
