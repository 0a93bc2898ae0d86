"""Fan-out: N PostgreSQL targets (N databases on one server) through ``maintenance_daily``'s
mapped tasks with the LocalExecutor (``airflow dags test --use-executor``), against the
same DAG with one target. Reports the time per target; the target is that fan-out
amortizes (time per target at N ≤ the one-target run).

``BENCH_FANOUT_TARGETS`` (default 50) and ``BENCH_FANOUT_PARALLELISM`` (default 4) tune it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mercenary_dev.servers import PostgresServer, S3Server, free_port, wait_for_port

from bench._common import airflow_env, report

TARGETS = int(os.environ.get("BENCH_FANOUT_TARGETS", "50"))
PARALLELISM = os.environ.get("BENCH_FANOUT_PARALLELISM", "4")
BUCKET = "mercenary-backups"


def config(reports: Path, names: list[str]) -> dict[str, Any]:
    return {
        "reports": {"url": f"file://{reports}"},
        "targets": {"postgres": [{"name": n, "conn_id": f"maintenance_postgres_{n}"} for n in names], "redis": []},
        "backups": {"bucket": BUCKET},
        "host": {"paths": ["/"]},
        # The sample has no backups (critical findings); there is no Slack to tell.
        "alerts": {"notify_findings": "none"},
    }


def run_daily(home: Path, base_env: dict[str, str], pg: PostgresServer, s3: S3Server,
              names: list[str]) -> tuple[float, dict[str, Any]]:
    reports = home / f"reports-{len(names)}-{time.monotonic_ns()}"
    cfg = home / f"maintenance-{len(names)}.yaml"
    cfg.write_text(yaml.safe_dump(config(reports, names)))
    conns = {f"AIRFLOW_CONN_MAINTENANCE_POSTGRES_{n.upper()}": pg.uri(f"fan_{n}") for n in names}
    conns.update(s3.connection_env("maintenance_s3"))
    env = dict(base_env, MAINTENANCE_CONFIG=str(cfg), **conns)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "airflow", "dags", "test", "maintenance_daily", "--use-executor"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=3600)
    finally:
        stop_group(proc)
    elapsed = time.perf_counter() - started
    found = sorted(reports.glob("maintenance_daily/*/report.json"))
    if not found:
        (home / "fanout.log").write_text(out)
        raise RuntimeError(f"no report (exit {proc.returncode}); log: {home / 'fanout.log'}")
    return elapsed, json.loads(found[-1].read_text())


def stop_group(proc: subprocess.Popen[Any]) -> None:
    """Stop a process and everything it spawned (LocalExecutor workers, api-server workers)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(15)
            return
        except subprocess.TimeoutExpired:
            continue


def start_api_server(env: dict[str, str], port: int) -> subprocess.Popen[Any]:
    """The LocalExecutor's task processes report to the execution API: run one."""
    argv = [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_port(port, timeout=180, proc=proc)  # type: ignore[arg-type]
    return proc


def covered(report_data: dict[str, Any], names: list[str]) -> int:
    seen = {str(item.get("target")) for item in report_data["findings"] + report_data["actions"]}
    return sum(1 for n in names if any(n == t or t.endswith(f":{n}") for t in seen))


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        home = Path(tmp)
        pg = PostgresServer().start()
        s3 = S3Server().start()
        try:
            names = [f"t{i:02d}" for i in range(TARGETS)]
            for n in names:
                pg.create_database(f"fan_{n}")
                pg.execute("CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 1000) g", f"fan_{n}")
            s3.client().create_bucket(Bucket=BUCKET)
            port = free_port()
            env = airflow_env(home, AIRFLOW__CORE__EXECUTOR="LocalExecutor", AIRFLOW__CORE__PARALLELISM=PARALLELISM,
                              AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(16),
                              AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/")
            subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                           capture_output=True)
            api = start_api_server(env, port)
            try:
                # Twice: the first run also pays cold caches of a fresh Airflow home.
                one = min(run_daily(home, env, pg, s3, names[:1])[0] for _ in range(2))
                many, data = run_daily(home, env, pg, s3, names)
            finally:
                stop_group(api)
            hit = covered(data, names)
            print(f"fan-out: {TARGETS} targets in {many:.1f} s ({many / TARGETS:.2f} s per target; "
                  f"{hit}/{TARGETS} targets in the report, status {data['status']}); one target: {one:.1f} s")
            report(f"fanout maintenance_daily, per target ({TARGETS} vs 1)", one, many / TARGETS,
                   "≤ 1.0× (fan-out amortizes)", many / TARGETS <= one and hit == TARGETS)
        finally:
            s3.cleanup()
            pg.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
