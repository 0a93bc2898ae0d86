"""``make demo`` and ``make bench`` stopped by SIGTERM (``timeout``, a CI runner, systemd) mid-run
leave nothing running: servers, ``airflow`` children, their process groups."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server_tmp() -> Iterator[Path]:
    """TMPDIR of the command under test: its servers' directories land here (readable by the
    ``postgres`` account the harness drops to as root, unlike pytest's private tmp_path)."""
    path = Path(tempfile.mkdtemp(prefix="mm-sigterm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _wait(what: str, predicate: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"exited {proc.returncode} before {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _names(procs: list[psutil.Process]) -> str:
    out = []
    for p in procs:
        try:
            out.append(" ".join(p.cmdline())[:100])
        except psutil.Error:
            continue
    return " | ".join(out)


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Still running (``is_running`` compares the create time, so a reused pid does not count)."""
    alive = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.Error:
            continue
    return alive


def _sigterm_and_check(proc: subprocess.Popen[bytes], started: list[psutil.Process], log: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(90)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running 90 s after SIGTERM:\n{log.read_text()[-3000:]}")
    deadline = time.monotonic() + 5
    while _alive(started) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _alive(started)
    assert not left, f"left running after SIGTERM: {_names(left)}\n{log.read_text()[-2000:]}"
    assert code == 130, log.read_text()[-3000:]


def _start(argv: list[str], log: Path, **env: str) -> subprocess.Popen[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "MAINTENANCE_CONFIG"))}
    full_env.update(env)
    with log.open("wb") as out:
        # A session of its own: the test can clean up after itself if the assertion fails.
        return subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _kill_session(proc: subprocess.Popen[bytes], started: list[psutil.Process]) -> None:
    for p in _alive(started):
        try:
            p.kill()
        except psutil.Error:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _has(procs: list[psutil.Process], *words: str) -> bool:
    for p in procs:
        try:
            line = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if all(w in line for w in words):
            return True
    return False


def test_demo_stopped_by_sigterm_mid_run_leaves_nothing_running(tmp_path: Path, server_tmp: Path) -> None:
    log = tmp_path / "demo.out"
    proc = _start([sys.executable, "-m", "mercenary_dev.demo", "--dags", "maintenance_daily",
                   "--dir", str(tmp_path / "demo")], log, TMPDIR=str(server_tmp))
    started: list[psutil.Process] = []
    try:
        # Servers up (PostgreSQL adopted by the demo, Redis) and an `airflow` command running.
        _wait("servers and an airflow child", lambda: _has(_descendants(proc.pid), "-m", "airflow")
              and _has(_descendants(proc.pid), "redis-server") and _has(_descendants(proc.pid), "postgres"),
              240, proc, log)
        started = _descendants(proc.pid)
        assert _has(started, "postgres"), _names(started)
        _sigterm_and_check(proc, started, log)
        assert not (tmp_path / "demo" / "state.json").exists(), "the demo's state says nothing is left to clean"
        assert not list(server_tmp.glob("mm-pg*/data")), "PostgreSQL data directory removed"
    finally:
        _kill_session(proc, started)


def test_bench_stopped_by_sigterm_mid_run_leaves_nothing_running(tmp_path: Path, server_tmp: Path) -> None:
    log = tmp_path / "bench.out"
    proc = _start([sys.executable, "-m", "bench", "postgres_checks"], log, TMPDIR=str(server_tmp), BENCH_TABLES="20")
    started: list[psutil.Process] = []
    try:
        _wait("a running PostgreSQL", lambda: _has(_descendants(proc.pid), "postgres", str(server_tmp)), 120, proc, log)
        time.sleep(1)  # mid-run: building tables / opening sessions
        started = _descendants(proc.pid)
        _sigterm_and_check(proc, started, log)
        assert "interrupted (SIGTERM)" in log.read_text()
        assert not list(server_tmp.glob("mm-pg*/data")), "PostgreSQL data directory removed"
    finally:
        _kill_session(proc, started)
