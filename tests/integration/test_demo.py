"""`make demo` end to end (a lean subset of DAGs), and its clean-up after SIGTERM and SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from mercenary_dev.demo.state import DemoState, clean_stale

ROOT = Path(__file__).resolve().parents[2]


def demo_env() -> dict[str, str]:
    # The test harness' Airflow settings must not leak into the demo: it builds its own.
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "MAINTENANCE_CONFIG"))}


def start_demo(workdir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mercenary_dev.demo", "--dir", str(workdir), *args],
        cwd=ROOT, env=demo_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )


def processes_of(workdir: Path, pg_dir: str | None = None) -> list[str]:
    """Live processes that belong to the demo in ``workdir`` (by env, argv or data dir)."""
    found = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            env = proc.environ()
        except psutil.Error:
            continue
        if (str(workdir) in cmdline or env.get("AIRFLOW_HOME", "").startswith(str(workdir))
                or (pg_dir and pg_dir in cmdline)):
            found.append(f"{proc.pid} {cmdline[:120]}")
    return found


def wait_for_state(workdir: Path, ready: Any, proc: subprocess.Popen[str], timeout: float = 120) -> DemoState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = DemoState.load(workdir)
        if state is not None and ready(state):
            return state
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.2)
    raise AssertionError("demo never reached the expected state")


def postgres_alive(pg_dir: str) -> bool:
    return any(pg_dir in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"]))


def test_demo_runs_dags_prints_summary_and_leaves_nothing(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    workdir.mkdir()
    (workdir / "leftover.txt").write_text("from an earlier run")  # stale state is cleaned at start
    proc = start_demo(workdir, "--dags", "maintenance_daily")
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out
    assert "[ 1/" in out
    assert "Summary" in out
    assert "maintenance_daily" in out
    assert "Total time" in out
    assert not (workdir / "leftover.txt").exists()

    summary = json.loads((workdir / "summary.json").read_text())
    assert set(summary["dags"]) == {"maintenance_daily"}
    daily = json.loads(Path(summary["dags"]["maintenance_daily"]["report"]).read_text())
    assert daily["dag_id"] == "maintenance_daily"
    # The sample problems are found: the cache that mostly misses is critical.
    severities = {(f["check"], f["target"]): f["severity"] for f in daily["findings"]}
    assert severities.get(("redis.hit_ratio", "cache")) == "critical", severities
    assert daily["status"] in ("critical", "failed")
    if os.geteuid() == 0:  # two simulated hosts: the server lines ran on them
        assert "Hosts: app1, app2" in out
        assert severities.get(("services.status", "app1:sshd")) == "ok", severities
        assert severities.get(("config.backup", "app2")) == "ok", severities
    else:
        assert "simulated hosts app1, app2 need root" in out

    # Nothing left running: servers stopped, their directories gone, no Airflow process.
    servers = summary["servers"]
    assert not postgres_alive(servers["postgres_dir"])
    assert not Path(servers["postgres_dir"]).exists()
    assert not psutil.pid_exists(servers["redis_pid"]) or psutil.Process(servers["redis_pid"]).status() == "zombie"
    assert processes_of(workdir, servers["postgres_dir"]) == []
    assert not (workdir / "state.json").exists()
    # no secret in the printed output
    assert "pw-" not in out


def test_sigterm_during_a_dag_run_stops_everything(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    proc = start_demo(workdir, "--dags", "maintenance_daily")
    state = wait_for_state(workdir, lambda s: s.pg_base_dir is not None and s.groups, proc)
    assert state.pg_base_dir is not None
    assert postgres_alive(state.pg_base_dir)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "interrupted" in out
    assert not postgres_alive(state.pg_base_dir)
    assert processes_of(workdir, state.pg_base_dir) == []


def test_a_killed_demo_is_cleaned_up_by_the_next_run(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    proc = start_demo(workdir, "--dags", "maintenance_daily")
    state = wait_for_state(workdir, lambda s: s.pg_base_dir is not None and s.redis is not None, proc)
    assert state.pg_base_dir is not None
    assert state.redis is not None
    os.kill(proc.pid, signal.SIGKILL)  # a crash: no finally runs; the servers survive it
    proc.communicate(timeout=30)
    assert postgres_alive(state.pg_base_dir)
    assert state.redis.alive() is not None

    done = clean_stale(workdir)

    assert any("PostgreSQL" in line for line in done), done
    assert any("Redis" in line for line in done), done
    assert not postgres_alive(state.pg_base_dir)
    assert state.redis.alive() is None
    assert not workdir.exists()
    assert processes_of(workdir, state.pg_base_dir) == []


def test_a_live_demo_is_not_clobbered(tmp_path: Path) -> None:
    from mercenary_dev.demo.state import AlreadyRunning, Proc

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        DemoState(demo=Proc.of(sleeper.pid)).save(tmp_path)
        with pytest.raises(AlreadyRunning):
            clean_stale(tmp_path)
        assert (tmp_path / "state.json").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
