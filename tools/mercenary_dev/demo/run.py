"""``make demo``: start loopback servers with sample problems, run every DAG once with
``airflow dags test``, print a one-screen summary, stop everything it started.

Steps (one progress line each): clean what an interrupted run left, start PostgreSQL /
Redis (AOF) / S3 (moto) / a Slack receiver, load the sample problems, write the demo
config, migrate an SQLite Airflow metadata DB under ``<dir>/airflow`` and create the
``maintenance_heavy`` pool, run the DAGs (backups before the DAGs that verify and
restore them), summarize. With ``--serve`` it then runs ``airflow standalone`` on the
same metadata DB (the demo runs are visible in the UI) until Ctrl-C.

Exit status: 0 when every DAG produced its report, even when a report says ``critical``
or ``failed`` — finding problems is the demo's job, and the summary says so loudly; 1
when the demo itself could not run (a server, Airflow, or a DAG run with no report);
130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import yaml

from mercenary_dev.demo import sample
from mercenary_dev.demo.state import AlreadyRunning, DemoState, Proc, clean_stale, kill_group
from mercenary_dev.demo.summary import DagResult, find_report, render
from mercenary_dev.servers import LocalStack, ServerError, free_port, wait_for_port
from mercenary_dev.servers import airflow_env as local_airflow_env
from mercenary_dev.shutdown import become_subreaper, stop_descendants

PROJECT_ROOT = Path(__file__).resolve().parents[3]  # the source tree (the demo is a dev tool)

T = TypeVar("T")

# Backups first: the cadence DAGs verify and restore them.
DAG_ORDER = [
    "backup_full",
    "backup_incremental",
    "maintenance_preview",  # before the windows: they report planned vs done against it
    "maintenance_daily",
    "maintenance_weekly",
    "maintenance_monthly",
    "maintenance_quarterly",
    "emergency_maintenance",
    "alert_evaluation",
]
EMERGENCY_CONF = {
    "action": "vacuum_analyze",
    "target": "main",
    "objects": ["demo.orders"],
    "severity": "critical",
    "reason": "demo: dead tuples piling up on demo.orders (autovacuum disabled)",
    "ticket": "OPS-1",
    "dry_run": True,
}
DAG_TIMEOUT_S = 900
BUCKET = "mercenary-backups"


class Interrupted(Exception):
    """SIGTERM/SIGHUP received: unwind through the ``finally`` blocks."""


class DemoError(RuntimeError):
    """The demo itself could not run (infrastructure, not a finding)."""


def dag_ids(dags_dir: Path, only: Sequence[str] | None = None) -> list[str]:
    """The DAGs to run, in demo order; DAG files not in :data:`DAG_ORDER` run last."""
    present = sorted(p.stem for p in dags_dir.glob("*.py") if not p.name.startswith("_"))
    ordered = [d for d in DAG_ORDER if d in present] + [d for d in present if d not in DAG_ORDER]
    if only:
        unknown = sorted(set(only) - set(present))
        if unknown:
            raise DemoError(f"unknown DAG ids {unknown}; known: {present}")
        ordered = [d for d in ordered if d in only]
    return ordered


def demo_config(workdir: Path, hosts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The demo's maintenance config: local reports, sample files, small thresholds; with simulated
    hosts, the server lines run on them (their logs, temp files and config files)."""
    config: dict[str, Any] = {
        "reports": {"url": f"file://{workdir / 'reports'}"},
        "targets": {"postgres": [{"name": "main"}], "redis": [{"name": "cache"}]},
        "backups": {"bucket": BUCKET, "server_side_encryption": "AES256"},
        "postgres": {"long_transaction_seconds": 5},
        "thresholds": {"slow_query_mean_ms": {"warning": 200, "critical": 2000}},
        "alerts": {"for_seconds": 0},
        "logs": {"sets": [{"name": "app", "paths": [str(workdir / "applogs" / "*.log")], "archive_after_days": 7}]},
        "cleanup": {"roots": [str(workdir / "tmp")], "older_than_days": 7, "dry_run": True},
        "host": {"paths": ["/"]},
    }
    if hosts:
        config["targets"]["hosts"] = hosts
        config["logs"] = {"sets": [{"name": "app", "paths": ["/var/log/mercenary/*.log"], "archive_after_days": 7}],
                          "error_scan": [{"name": "app", "paths": ["/var/log/mercenary/*.log"]}]}
        config["cleanup"] = {"roots": ["/tmp/mercenary"], "older_than_days": 7, "dry_run": True}
        config["timeouts"] = {"ssh": {"connect_s": 5, "command_s": 60}}
    return config


def airflow_env(workdir: Path, config_path: Path, connections: dict[str, str]) -> dict[str, str]:
    env = local_airflow_env(workdir / "airflow")
    env.update(
        {
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "MAINTENANCE_CONFIG": str(config_path),
            # `airflow dags test` cannot run window DAGs with a DeadlineAlert in Airflow 3.3.2
            # (see dagkit.DEADLINES_ENV); failed tasks retry after 1 s instead of 1 min.
            "MAINTENANCE_DEADLINE_ALERTS": "off",
            "MAINTENANCE_RETRY_DELAY_SECONDS": "1",
            **connections,
        }
    )
    env.pop("PYTHONPATH", None)
    return env


class Demo:
    def __init__(self, workdir: Path, dags: list[str], pg_major: int | None, serve: bool) -> None:
        self.workdir = workdir
        self.dags = dags
        self.pg_major = pg_major
        self.serve = serve
        self.state = DemoState(demo=Proc.of(os.getpid()))
        self.stack: LocalStack | None = None
        self.problems: sample.Problems | None = None
        self.fleet: Any = None
        self.hosts_note = ""
        self.env: dict[str, str] = {}
        self.children: list[subprocess.Popen[bytes]] = []
        self.t0 = time.monotonic()
        self.step_no = 0
        self.steps_total = 6 + len(dags) + (1 if serve else 0)

    # ------------------------------------------------------------------ progress

    def progress(self, label: str, fn: Callable[[], T]) -> T:
        self.step_no += 1
        prefix = f"[{self.step_no:>2}/{self.steps_total}] {label} "
        print(prefix + "…", end="", flush=True)
        started = time.monotonic()
        try:
            result = fn()
        except BaseException:
            print(f" failed ({time.monotonic() - started:.1f} s)", flush=True)
            raise
        print(f" ok ({time.monotonic() - started:.1f} s)", flush=True)
        return result

    # ------------------------------------------------------------------ steps

    def start_servers(self) -> None:
        major = self.pg_major
        settings = {"summarize_wal": "on"} if major is not None and major >= 17 else {}
        self.stack = LocalStack(pg_major=major, pg_settings=settings)
        self.stack.start()
        pg, redis = self.stack.postgres, self.stack.redis
        assert pg is not None
        assert redis is not None
        assert redis.proc is not None
        self.state.pg_bin_dir = str(pg.bin_dir)
        self.state.pg_base_dir = str(pg.base_dir)
        self.state.redis = Proc.of(redis.proc.pid)
        self.state.redis_dir = str(redis.base_dir)
        self.state.save(self.workdir)

    def load_sample(self) -> None:
        stack = self.stack
        assert stack is not None
        assert stack.postgres is not None
        assert stack.redis is not None
        assert stack.s3 is not None
        self.problems = sample.load_postgres(stack.postgres)
        sample.load_redis(stack.redis)
        sample.create_buckets(stack.s3, BUCKET)
        sample.make_files(self.workdir / "applogs", self.workdir / "tmp")
        self.start_hosts()

    def start_hosts(self) -> None:
        """Two simulated hosts (real sshd, each its own mount and PID namespace) when root; else say why not."""
        from mercenary_dev.hosts import Fleet

        if os.geteuid() != 0:
            self.hosts_note = ("Hosts: local only (the worker itself) — simulated hosts app1, app2 need root "
                               "(unshare --mount, sshd): run `sudo make demo` to see two hosts")
            return
        self.fleet = Fleet().start()
        # Each host is its own process group: a killed demo's next run stops them (clean_stale).
        self.state.groups += [Proc.of(host.proc.pid) for host in self.fleet.hosts.values() if host.proc is not None]
        self.state.save(self.workdir)
        for index, name in enumerate(self.fleet.names):
            sample.make_host_files(self.fleet[name], index)
        self.hosts_note = (f"Hosts: {', '.join(self.fleet.names)} — simulated machines (real sshd on loopback, each "
                           "with its own /var/log, /tmp, apt state); every server line ran on them over SSH")

    def write_config(self) -> None:
        assert self.stack is not None
        assert self.stack.postgres is not None
        config_path = self.workdir / "maintenance.yaml"
        hosts = None
        if self.fleet is not None:
            hosts = self.fleet.host_entries(paths=["/var/log", "/tmp"], services=[{"name": "sshd", "process": "sshd"}],
                                            config_files=["/etc/mercenary/*.conf"])
        config_path.write_text(yaml.safe_dump(demo_config(self.workdir, hosts), sort_keys=False))
        connections = self.stack.connection_env()
        if self.fleet is not None:
            connections.update({k: v for k, v in self.fleet.connection_env().items() if "DEAD" not in k})
        connections.update(self.stack.postgres.connection_env("maintenance_postgres", sample.DATABASE))
        self.env = airflow_env(self.workdir, config_path, connections)
        (self.workdir / "airflow").mkdir(parents=True, exist_ok=True)

    def airflow(self, *args: str, log_name: str, timeout: float = 300) -> int | None:
        """Run ``airflow <args>`` in its own process group, output to ``logs/<log_name>.log``.

        Returns the exit code, or None when it ran out of time (then it is killed).
        """
        log_path = self.workdir / "logs" / f"{log_name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "airflow", *args], env=self.env, cwd=self.workdir,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            with self.child(proc):
                try:
                    return proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    print(f" (timed out after {timeout:.0f} s)", end="", flush=True)
                    return None

    @contextmanager
    def child(self, proc: subprocess.Popen[bytes]) -> Iterator[None]:
        leader = Proc.of(proc.pid)
        self.children.append(proc)
        self.state.groups.append(leader)
        self.state.save(self.workdir)
        try:
            yield
        finally:
            kill_group(leader)
            proc.wait()
            self.children.remove(proc)
            self.state.groups.remove(leader)
            self.state.save(self.workdir)

    def migrate(self) -> None:
        for args, name in ((("db", "migrate"), "db-migrate"),
                           (("pools", "set", "maintenance_heavy", "2", "heavy maintenance (VACUUM, dumps)"), "pools"),
                           (("pools", "set", "maintenance_critical", "1", "critical emergency runs only"),
                            "pools-critical")):
            code = self.airflow(*args, log_name=name)
            if code != 0:
                raise DemoError(f"airflow {' '.join(args[:2])} exited {code}; see {self.workdir / 'logs' / name}.log")

    def run_dag(self, dag_id: str) -> DagResult:
        args = ["dags", "test", dag_id]
        if dag_id == "emergency_maintenance":
            args += ["-c", json.dumps(EMERGENCY_CONF)]
        started = time.monotonic()
        code = self.airflow(*args, log_name=dag_id, timeout=DAG_TIMEOUT_S)
        report_path = find_report(self.workdir / "reports", dag_id)
        report = json.loads(report_path.read_text()) if report_path else None
        return DagResult(dag_id, code, time.monotonic() - started, report, report_path,
                         self.workdir / "logs" / f"{dag_id}.log")

    def serve_ui(self) -> None:
        port = 8080 if _port_free(8080) else free_port()
        env = dict(self.env, AIRFLOW__API__PORT=str(port), AIRFLOW__API__BASE_URL=f"http://localhost:{port}")
        self.env = env
        proc = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, cwd=self.workdir,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        with self.child(proc):
            wait_for_port(port, timeout=180, proc=proc)  # type: ignore[arg-type]
            passwords = self.workdir / "airflow" / "simple_auth_manager_passwords.json.generated"
            deadline = time.monotonic() + 60
            while not passwords.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            login = _admin_password(passwords)
            print(f"\nMaintenance console: http://localhost:{port}/plugin/maintenance  (user admin, password "
                  f"{login or '?'}; stored in {passwords})\nAirflow UI: http://localhost:{port} — the demo runs are "
                  "listed under each DAG, their reports in the \"Maintenance report\" tab. Ctrl-C stops everything.\n",
                  flush=True)
            proc.wait()

    # ------------------------------------------------------------------ main

    def run(self) -> int:
        self.progress("starting PostgreSQL, Redis (AOF), S3 (moto), Slack receiver", self.start_servers)
        self.progress("loading sample problems (dead tuples, unused index, idle transaction)", self.load_sample)
        self.progress("writing demo config and Airflow environment", self.write_config)
        self.progress("migrating Airflow metadata (SQLite) and creating pools maintenance_heavy, "
                      "maintenance_critical", self.migrate)
        results: list[DagResult] = []
        for dag_id in self.dags:
            label = f"airflow dags test {dag_id}"
            self.step_no += 1
            print(f"[{self.step_no:>2}/{self.steps_total}] {label} …", end="", flush=True)
            result = self.run_dag(dag_id)
            print(f" {result.status} ({result.seconds:.1f} s)", flush=True)
            results.append(result)
        self.step_no += 1
        print(f"[{self.step_no:>2}/{self.steps_total}] summary", flush=True)
        slack = len(self.stack.slack.messages) if self.stack and self.stack.slack else 0
        print(render(results, self.workdir / "reports", slack, time.monotonic() - self.t0), flush=True)
        if self.hosts_note:
            print(self.hosts_note, flush=True)
            print(host_lines(results, list(self.fleet.names) if self.fleet is not None else ["local"]), flush=True)
        (self.workdir / "summary.json").write_text(json.dumps(
            {"dags": {r.dag_id: {"status": r.status, "returncode": r.returncode, "report": str(r.report_path)}
                      for r in results},
             "slack_messages": slack,
             "servers": {"postgres_dir": self.state.pg_base_dir, "redis_dir": self.state.redis_dir,
                         "redis_pid": self.state.redis.pid if self.state.redis else None}}, indent=1))
        if self.serve:
            self.step_no += 1
            print(f"[{self.step_no:>2}/{self.steps_total}] airflow standalone (Ctrl-C to stop)", flush=True)
            self.serve_ui()
        return 1 if any(r.infrastructure_error for r in results) else 0

    def stop(self) -> None:
        started = time.monotonic()
        print("stopping everything the demo started …", end="", flush=True)
        for proc in list(self.children):
            kill_group(Proc(proc.pid, 0)) if proc.poll() is None else None
        if self.problems is not None:
            self.problems.close()
        if self.fleet is not None:
            self.fleet.stop()
        if self.stack is not None:
            self.stack.cleanup()
        self.state = DemoState()
        state_file = self.workdir / "state.json"
        if state_file.exists():
            state_file.unlink()
        print(f" done ({time.monotonic() - started:.1f} s)", flush=True)


def host_lines(results: list[DagResult], hosts: list[str]) -> str:
    """Per host: how many findings and actions name it, and the worst severity."""
    order = ["ok", "unknown", "warning", "critical"]
    lines = []
    for name in hosts:
        items = [item for r in results for key in ("findings", "actions") for item in (r.report or {}).get(key, [])
                 if item.get("target") == name or str(item.get("target", "")).startswith(f"{name}:")
                 or item.get("target") == f"host:{name}"]
        worst = max((f.get("severity", "ok") for f in items if "severity" in f), key=order.index, default="-")
        lines.append(f"  {name:<8} {len(items):>3} findings/actions, worst {worst}")
    return "\n".join(lines)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _admin_password(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    value = data.get("admin") if isinstance(data, dict) else None
    return str(value) if value else None


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):  # the cleanup this starts must not be cut short
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signal.Signals(signum).name)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mercenary_dev.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help="then run `airflow standalone` until Ctrl-C")
    parser.add_argument("--dags", default="", help="comma-separated DAG ids to run (default: all)")
    parser.add_argument("--dir", type=Path, default=PROJECT_ROOT / ".demo", help="working directory (default .demo)")
    parser.add_argument("--pg-major", type=int, default=None, help="PostgreSQL major version (default: 15)")
    return parser.parse_args(argv)


def quiet_libraries() -> None:
    """Keep the demo's screen to progress lines: no request logs from moto, no runtime-dir warning."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_libraries()
    workdir: Path = args.dir.resolve()
    become_subreaper()  # a pg_ctl-started PostgreSQL and orphaned Airflow workers stay our descendants
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGTERM, signal.SIGHUP)}
    t0 = time.monotonic()
    demo: Demo | None = None
    try:
        dags = dag_ids(PROJECT_ROOT / "dags", [d for d in args.dags.split(",") if d] or None)
        for line in clean_stale(workdir):
            print(f"cleanup of a previous run: {line}", flush=True)
        workdir.mkdir(parents=True)
        demo = Demo(workdir, dags, args.pg_major, args.serve)
        demo.state.save(workdir)
        code = demo.run()
    except (KeyboardInterrupt, Interrupted) as exc:
        print(f"\ninterrupted ({exc or 'SIGINT'})", file=sys.stderr, flush=True)
        code = 130
    except (DemoError, ServerError, AlreadyRunning, subprocess.CalledProcessError, OSError) as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        # A second Ctrl-C during shutdown must not leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        if demo is not None:
            demo.stop()
        stop_descendants()  # anything a step started and did not stop (last resort)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"demo finished in {time.monotonic() - t0:.0f} s (exit {code})", flush=True)
    return code
