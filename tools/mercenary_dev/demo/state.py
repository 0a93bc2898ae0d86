"""What the demo started, written down so an interrupted run can be cleaned up by the next.

``<demo dir>/state.json`` lists the demo's own pid, the PostgreSQL data directory, the
Redis pid and the process groups of the Airflow commands. A run that starts while a
previous one died (SIGKILL, closed terminal) stops those processes and removes the
previous state before starting anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

STATE_FILE = "state.json"


class AlreadyRunning(RuntimeError):
    """Another demo using the same directory is alive."""


@dataclass
class Proc:
    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> Proc:
        return cls(pid, psutil.Process(pid).create_time())

    def alive(self) -> psutil.Process | None:
        """The process, when it is still the one recorded (not a reused pid)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 1.0 or proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None


@dataclass
class DemoState:
    demo: Proc | None = None
    pg_bin_dir: str | None = None
    pg_base_dir: str | None = None
    redis: Proc | None = None
    redis_dir: str | None = None
    groups: list[Proc] = field(default_factory=list)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        tmp.replace(directory / STATE_FILE)

    @classmethod
    def load(cls, directory: Path) -> DemoState | None:
        try:
            raw: dict[str, Any] = json.loads((directory / STATE_FILE).read_text())
        except (OSError, ValueError):
            return None

        def proc(value: Any) -> Proc | None:
            return Proc(int(value["pid"]), float(value["create_time"])) if value else None

        return cls(
            demo=proc(raw.get("demo")),
            pg_bin_dir=raw.get("pg_bin_dir"),
            pg_base_dir=raw.get("pg_base_dir"),
            redis=proc(raw.get("redis")),
            redis_dir=raw.get("redis_dir"),
            groups=[p for p in (proc(g) for g in raw.get("groups", [])) if p is not None],
        )


def kill_group(leader: Proc, grace_s: float = 10.0) -> None:
    """SIGTERM the process group led by ``leader``, SIGKILL what is left after ``grace_s``."""
    if leader.alive() is None and not _group_exists(leader.pid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _group_exists(leader.pid):
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _group_exists(leader.pid):
        time.sleep(0.05)


def _group_exists(pgid: int) -> bool:
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                return True
    return False


def stop_postgres(bin_dir: str | None, base_dir: str | None) -> None:
    """Stop a PostgreSQL left running in ``base_dir`` (immediate mode), then remove the dir."""
    if not base_dir:
        return
    data = Path(base_dir) / "data"
    pidfile = data / "postmaster.pid"
    if pidfile.exists():
        if bin_dir:
            prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
            subprocess.run([*prefix, str(Path(bin_dir) / "pg_ctl"), "-D", str(data), "stop", "-m", "immediate",
                            "-w", "-t", "30"], capture_output=True, check=False)
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pidfile.read_text().splitlines()[0])
            proc = psutil.Process(pid)
            if "postgres" in proc.name():
                proc.kill()
    shutil.rmtree(base_dir, ignore_errors=True)


def clean_stale(directory: Path) -> list[str]:
    """Stop whatever a previous, interrupted demo in ``directory`` left running; return what was done."""
    done: list[str] = []
    state = DemoState.load(directory)
    if state is not None:
        if state.demo is not None and state.demo.pid != os.getpid():
            proc = state.demo.alive()
            if proc is not None:
                raise AlreadyRunning(f"another demo (pid {proc.pid}) is running in {directory}; stop it first")
        for group in state.groups:
            if group.alive() is not None or _group_exists(group.pid):
                kill_group(group, grace_s=5)
                done.append(f"stopped Airflow process group {group.pid}")
        if state.redis is not None:
            proc = state.redis.alive()
            if proc is not None:
                proc.kill()
                done.append(f"stopped Redis (pid {proc.pid})")
        if state.redis_dir:
            shutil.rmtree(state.redis_dir, ignore_errors=True)
        if state.pg_base_dir and Path(state.pg_base_dir).exists():
            stop_postgres(state.pg_bin_dir, state.pg_base_dir)
            done.append(f"stopped PostgreSQL in {state.pg_base_dir}")
    if directory.exists():
        shutil.rmtree(directory)
        done.append(f"removed {directory}")
    return done
