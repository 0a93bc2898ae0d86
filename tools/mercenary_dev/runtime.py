"""The production Airflow topology on loopback, for tests, benchmarks and by hand.

:class:`AirflowRuntime` starts ``airflow api-server``, ``scheduler``, ``dag-processor`` and
``triggerer`` as separate processes (each in its own process group, logs in
``<home>/proc/<name>.log``) over this project's ``dags/`` and ``plugins/``, with one JWT
secret and the execution API URL all of them agree on. LocalExecutor on SQLite by default;
``executor="CeleryExecutor"`` with a PostgreSQL metadata URI and a Redis broker adds
``airflow celery worker`` processes (the shape of ``docker-compose.yaml``).

``faketime=True`` runs every process under Debian's libfaketime (``LD_PRELOAD``) reading one
clock file: all processes share one relative offset, so their clocks agree (JWTs carry
times), and :meth:`AirflowRuntime.set_clock` moves every clock at once (e.g. to Sunday 01:58
UTC, just before the weekly window). The monotonic clock moves with it: with
``FAKETIME_DONT_FAKE_MONOTONIC`` Python's ``time.sleep`` fails (EINVAL) under libfaketime.
Move the clock only while no task runs (a jump looks like a long pause to timers).

:class:`RestClient` is the small REST v2 client the tests use: token, trigger, unpause,
wait for a run with a deadline, task instances, logs, pools.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib import error, request
from urllib.parse import quote

from mercenary_dev.servers import ServerError, airflow_env, free_port

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# Five processes write one SQLite file: wait for its lock longer than pysqlite's 5 s (a busy
# CI machine exceeds it: "database is locked" → HTTP 500). Named by import path in the env.
SQLITE_CONNECT_ARGS = {"timeout": 60}
FINISHED = frozenset({"success", "failed"})
HTTP_TIMEOUT_S = 30.0


def runtime_settings(port: int, jwt_secret: str, log_ports: tuple[int, int] = (8793, 8794)) -> dict[str, str]:
    """Settings every process of one deployment shares (also what docker-compose.yaml sets)."""
    return {
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        # Short loops so a test sees a run start within seconds, not a minute.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
        "AIRFLOW__TRIGGERER__DEFAULT_CAPACITY": "20",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # the log servers of workers and triggerer: free ports, so two deployments can coexist
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_ports[0]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_ports[1]),
    }


def celery_settings(broker_url: str, metadata_uri: str) -> dict[str, str]:
    """The CeleryExecutor settings of docker-compose.yaml's ``x-airflow-common`` (same keys; a test
    compares them): PostgreSQL metadata, Redis broker, result backend in the metadata DB."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_uri,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_uri,
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
    }


def _kill_group(proc: subprocess.Popen[bytes], grace: float = 8.0) -> None:
    """SIGTERM the process group, SIGKILL what is left after ``grace`` seconds."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    # children (task supervisors, gunicorn/uvicorn workers) may outlive the leader
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


@dataclass
class AirflowRuntime:
    """One Airflow deployment on loopback. ``start()``/``stop()`` or a ``with`` block."""

    home: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    executor: str = "LocalExecutor"
    sql_alchemy_conn: str | None = None  # default: SQLite file in home (absolute sqlite://// path)
    celery_workers: int = 0
    create_pool: bool = True
    faketime: bool = False
    clock_offset_s: float = 0.0
    port: int = 0
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    # ---------------------------------------------------------------- start/stop

    def build_env(self) -> dict[str, str]:
        self.port = self.port or free_port()
        env = airflow_env(self.home) | runtime_settings(self.port, self.jwt_secret, (free_port(), free_port()))
        # a test harness's switches must not leak into a deployment: deadline alerts stay on
        for key in ("MAINTENANCE_DEADLINE_ALERTS", "MAINTENANCE_RETRY_DELAY_SECONDS"):
            env.pop(key, None)
        env["AIRFLOW__CORE__EXECUTOR"] = self.executor
        if self.sql_alchemy_conn:
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.sql_alchemy_conn
        else:
            # sqlite:/// + an absolute path = the sqlite://// form every process resolves alike
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{self.sqlite_path}"
            for key in ("SQL_ALCHEMY_CONNECT_ARGS", "SQL_ALCHEMY_CONNECT_ARGS_ASYNC"):
                env[f"AIRFLOW__DATABASE__{key}"] = "mercenary_dev.runtime.SQLITE_CONNECT_ARGS"
        if self.faketime:
            env.update(self.faketime_env())
        env.update(self.extra_env)
        return env

    @property
    def sqlite_path(self) -> Path:
        return (self.home / "airflow.db").resolve()

    @property
    def clock_file(self) -> Path:
        return self.home / "faketime.rc"

    def faketime_env(self) -> dict[str, str]:
        libs = sorted(Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1"))
        if not libs:
            raise ServerError("libfaketime not found; install it with: apt-get install -y faketime")
        self.clock_file.write_text(f"{self.clock_offset_s:+.0f}s\n")
        return {"LD_PRELOAD": str(libs[0]), "FAKETIME_TIMESTAMP_FILE": str(self.clock_file),
                "FAKETIME_CACHE_DURATION": "1"}

    def set_clock(self, instant: datetime) -> None:
        """Move the wall clock of every process (libfaketime re-reads the file within a second)."""
        if not self.faketime:
            raise ServerError("set_clock needs AirflowRuntime(faketime=True)")
        self.clock_offset_s = round((instant - datetime.now(UTC)).total_seconds())
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(f"{self.clock_offset_s:+.0f}s\n")
        tmp.replace(self.clock_file)
        time.sleep(2)  # past FAKETIME_CACHE_DURATION

    def now(self) -> datetime:
        """The deployment's wall clock."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset_s)

    def airflow_argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "airflow", *args]

    def cli(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        """Run one ``airflow`` CLI command in this deployment's environment; fail naming it."""
        result = subprocess.run(self.airflow_argv(*args), env=self.env, capture_output=True, text=True,
                                timeout=timeout, cwd=self.home, start_new_session=True)
        if result.returncode != 0:
            raise ServerError(f"airflow {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}")
        return result

    def start(self, wait_s: float = 180.0) -> AirflowRuntime:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "proc").mkdir(exist_ok=True)
        self.env = self.build_env()
        try:
            self.cli("db", "migrate", timeout=300)
            if not self.sql_alchemy_conn:
                # WAL: readers do not block the writer (persists in the database file)
                with contextlib.closing(sqlite3.connect(self.sqlite_path, timeout=60)) as db:
                    db.execute("PRAGMA journal_mode=WAL")
            if self.create_pool:
                self.setup()
            components = [*COMPONENTS] + [f"celery-worker-{i}" for i in range(1, self.celery_workers + 1)]
            for name in components:
                self.spawn(name)
            self.wait_healthy(wait_s)
        except BaseException:
            self.stop()
            raise
        return self

    def setup(self) -> None:
        """The project's setup step (pool ``maintenance_heavy``), as a deployment runs it."""
        result = subprocess.run([sys.executable, "-m", "mercenary_maintenance.wiring.setup"],
                                env=self.env, capture_output=True, text=True, timeout=180, cwd=self.home)
        if result.returncode != 0:
            raise ServerError(f"mercenary_maintenance.wiring.setup exited {result.returncode}: {result.stderr[-2000:]}")

    def spawn(self, name: str) -> subprocess.Popen[bytes]:
        if name.startswith("celery-worker"):
            index = name.rsplit("-", 1)[1]
            args = ["celery", "worker", "--concurrency", "2", "--celery-hostname", f"worker{index}@%h",
                    "--skip-serve-logs"]
        else:
            args = [name]
        log = (self.home / "proc" / f"{name}.log").open("ab")
        proc = subprocess.Popen(self.airflow_argv(*args), env=self.env, cwd=self.home, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to one component's whole process group (a crashed machine)."""
        proc = self.procs.pop(name)  # meant to be gone: waits do not treat it as a crash
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)

    def wait_healthy(self, timeout: float) -> None:
        """Wait until the API answers and scheduler, triggerer and dag processor report healthy."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                last = self.client().get("/api/v2/monitor/health")
                wanted = ("metadatabase", "scheduler", "triggerer", "dag_processor")
                if all(last.get(k, {}).get("status") == "healthy" for k in wanted):
                    return
            except (OSError, ServerError) as exc:
                last = exc
            time.sleep(1)
        raise ServerError(f"Airflow not healthy after {timeout:.0f}s (last: {last}); logs in {self.home / 'proc'}")

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            _kill_group(self.procs[name])
        self.procs.clear()

    def __enter__(self) -> AirflowRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- helpers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> RestClient:
        return RestClient(self.url, alive=self.check_alive)

    def check_alive(self) -> None:
        """Raise naming the component (and its log's tail) when one has exited."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise ServerError(f"airflow {name} exited {proc.returncode}; log: {self.log_path(name)}\n"
                                  + self.log_tail(name))

    def log_path(self, name: str) -> Path:
        return self.home / "proc" / f"{name}.log"

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.log_path(name)
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def pids(self) -> list[int]:
        """Leader pids of the components (for CPU accounting)."""
        return [p.pid for p in self.procs.values() if p.poll() is None]


class RestClient:
    """Airflow REST API v2 with a JWT from ``/auth/token`` (simple auth manager, all admins)."""

    def __init__(self, base_url: str, timeout: float = HTTP_TIMEOUT_S,
                 alive: Callable[[], None] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token: str | None = None
        self.alive = alive or (lambda: None)  # raises when a component died: waits end early

    def token(self) -> str:
        if self._token is None:
            body = self._raw("GET", "/auth/token", None, auth=False)
            self._token = str(body["access_token"])
        return self._token

    def _raw(self, method: str, path: str, payload: Any, auth: bool = True) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        req = request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token()}")
        try:
            with request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except error.HTTPError as exc:
            raise ApiError(exc.code, exc.read().decode(errors="replace"), method, path) from None
        return json.loads(raw) if raw else None

    def get(self, path: str, attempts: int = 3) -> Any:
        """A read; one that times out is asked again (at most ``attempts`` × the timeout): an
        api-server on SQLite can stall for its 60 s lock wait while many tasks start at once."""
        for attempt in range(1, attempts + 1):
            try:
                return self._raw("GET", path, None)
            except (TimeoutError, error.URLError) as exc:
                if isinstance(exc, error.URLError) and not isinstance(exc.reason, TimeoutError):
                    raise
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, payload: Any) -> Any:
        return self._raw("POST", path, payload)

    def patch(self, path: str, payload: Any) -> Any:
        return self._raw("PATCH", path, payload)

    # ------------------------------------------------------------ DAGs and runs

    def wait_dag(self, dag_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Wait until the DAG processor has serialized ``dag_id``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return dict(self.get(f"/api/v2/dags/{dag_id}"))
            except ApiError as exc:
                if exc.status != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(1)

    def unpause(self, dag_id: str) -> None:
        self.wait_dag(dag_id)
        self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def pause(self, dag_id: str) -> None:
        self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": True})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: str | None = None,
                run_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"logical_date": logical_date, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return dict(self.post(f"/api/v2/dags/{dag_id}/dagRuns", body))

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"))

    def set_run_state(self, dag_id: str, run_id: str, state: str) -> dict[str, Any]:
        """PATCH the run's state; a 500 (the api-server's UPDATE of dag_run racing the scheduler's on
        the metadata DB, seen on PostgreSQL) is retried twice — setting a state is idempotent."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"
        for attempt in range(3):
            try:
                return dict(self.patch(path, {"state": state}))
            except ApiError as exc:
                if exc.status != 500 or attempt == 2:
                    raise
                time.sleep(1.0)
        raise AssertionError("unreachable")

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 240.0,
                 states: frozenset[str] = FINISHED) -> dict[str, Any]:
        """Poll the run until its state is in ``states``; fail naming the run and its tasks."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(dag_id, run_id)
            if run["state"] in states:
                return run
            self.alive()
            if time.monotonic() > deadline:
                tis = {t["task_id"]: t["state"] for t in self.task_instances(dag_id, run_id)}
                raise TimeoutError(f"{dag_id} {run_id} still {run['state']} after {timeout:.0f}s; tasks: {tis}")
            time.sleep(1)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances?limit=1000"
        return list(self.get(path)["task_instances"])

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
        """The task's log over REST as text (one JSON event per line's ``event``)."""
        path = (f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{quote(task_id)}"
                f"/logs/{try_number}?full_content=true&map_index={map_index}")
        content = self.get(path)["content"]
        if isinstance(content, str):
            return content
        return "\n".join(json.dumps(e) if not isinstance(e, str) else e for e in content)

    # ------------------------------------------------------------ pools

    def pool(self, name: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v2/pools/{quote(name)}"))

    def set_pool_slots(self, name: str, slots: int) -> dict[str, Any]:
        current = self.pool(name)
        body = {"name": name, "slots": slots, "description": current.get("description"),
                "include_deferred": bool(current.get("include_deferred"))}
        return dict(self.patch(f"/api/v2/pools/{quote(name)}", body))

    def delete_pool(self, name: str) -> None:
        self._raw("DELETE", f"/api/v2/pools/{quote(name)}", None)


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path} → {status}: {body[:500]}")
        self.status = status
        self.body = body
