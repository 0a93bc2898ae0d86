"""A real ``airflow api-server`` with this project's plugin, SimpleAuthManager, seeded run
reports and the DAGs serialized — and a headless Chromium driven by Selenium — for the
console's browser tests."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from mercenary_dev import servers, synthetic

from mercenary_maintenance.report.store import open_store
from mercenary_maintenance.windows.rules import UTC

USER = "admin"
CHROME_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--window-size=1400,1000"]


@dataclass
class AirflowUI:
    """``airflow db migrate`` + ``dags reserialize`` + ``api-server`` on a free port."""

    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mm-ui-")))
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    seeded_days: int = 100
    # Only these DAG files are serialized (the UI needs the DAGs the tests open): parsing all costs minutes here.
    dag_files: tuple[str, ...] = ("emergency_maintenance", "maintenance_daily")
    # An already migrated SQLite metadata DB to copy instead of running `airflow db migrate` again.
    migrated_db: Path | None = None
    # SimpleAuthManager users (name → role); each gets a password of its own.
    users: dict[str, str] = field(default_factory=lambda: {USER: "admin"})
    # More settings for the api-server (e.g. another auth manager).
    extra_env: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    def _run(self, *args: str, timeout: float) -> None:
        log = self.home / "setup.log"
        with log.open("ab") as out:
            code = subprocess.run([sys.executable, "-m", "airflow", *args], env=self.env, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=timeout, check=False).returncode
        if code != 0:
            raise RuntimeError(f"airflow {' '.join(args)} exited {code}; see {log}")

    def start(self) -> AirflowUI:
        self.port = self.port or servers.free_port()
        synthetic.populate(open_store(f"file://{self.reports}"), datetime.now(UTC) - timedelta(hours=1),
                           days=self.seeded_days)
        config = self.home / "maintenance.yaml"
        config.write_text(yaml.safe_dump({
            "reports": {"url": f"file://{self.reports}"},
            "targets": {"postgres": [{"name": "main"}], "redis": [{"name": "cache"}],
                        "http": [{"name": "api", "url": "https://api.example.invalid"}]},
            "console": {"cache_dir": str(self.home / "console-cache"), "refresh_seconds": 0},
        }))
        passwords = self.home / "passwords.json"
        self.passwords = {name: self.password if name == USER else secrets.token_urlsafe(12) for name in self.users}
        passwords.write_text(json.dumps(self.passwords))
        airflow_home = self.home / "airflow"
        airflow_home.mkdir()
        dags = self.home / "dags"
        dags.mkdir()
        project_dags = Path(__file__).resolve().parents[2] / "dags"
        for name in self.dag_files:
            (dags / f"{name}.py").symlink_to(project_dags / f"{name}.py")
        self.env = servers.airflow_env(airflow_home) | {
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "MAINTENANCE_CONFIG": str(config),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{n}:{r}" for n, r in self.users.items()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "MAINTENANCE_DEADLINE_ALERTS": "off",
        } | self.extra_env
        if self.migrated_db is not None:
            _copy_sqlite(self.migrated_db, airflow_home / "airflow.db")
        else:
            self._run("db", "migrate", timeout=600)
        self._run("dags", "reserialize", timeout=600)
        log = (self.home / "api-server.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--port", str(self.port), "--host", "127.0.0.1",
             "--workers", "1"], env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 300
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"api-server exited {self.proc.returncode}; see {self.home / 'api-server.log'}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5):
                    break
            except (urllib.error.URLError, OSError) as exc:
                if time.monotonic() > deadline:
                    log_path = self.home / 'api-server.log'
                    raise RuntimeError(f"api-server not healthy after 300 s; see {log_path}") from exc
                time.sleep(1)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the api-server's own process group (its workers)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    # ------------------------------------------------------------------ REST

    def token(self, user: str = USER) -> str:
        body = json.dumps({"username": user, "password": self.passwords.get(user, self.password)}).encode()
        request = urllib.request.Request(f"{self.url}/auth/token", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.load(response)["access_token"])

    def rest(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token or self.token()}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)


def chrome(user_data_dir: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = servers.require_binary("chromium")
    for flag in [*CHROME_FLAGS, f"--user-data-dir={user_data_dir}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(servers.require_binary("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    return driver


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy a SQLite database the test session is using through SQLite's backup API, never by reading
    the file: closing a plain file descriptor on it would drop the POSIX locks this process's own
    SQLite connections hold (fcntl locks are per process), letting another process write under them."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
