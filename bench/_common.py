"""Shared helpers of the benchmarks: result lines, an isolated Airflow environment, timing."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import textwrap
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS: list[Result] = []

# Benchmarks print result lines only: no request log of moto, no runtime-dir warning.
logging.getLogger("werkzeug").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@dataclass
class Result:
    name: str
    baseline_s: float
    ours_s: float
    target: str
    ok: bool

    @property
    def ratio(self) -> float:
        return self.ours_s / self.baseline_s if self.baseline_s else float("inf")

    def line(self) -> str:
        verdict = "ok" if self.ok else "MISSED"
        return (f"{self.name}: baseline {self.baseline_s:.3f} s, ours {self.ours_s:.3f} s, "
                f"ratio {self.ratio:.2f} (target {self.target}: {verdict})")


def report(name: str, baseline_s: float, ours_s: float, target: str, ok: bool) -> Result:
    """Print the convention's line (``<name>: baseline x s, ours y s, ratio r``) and keep it."""
    result = Result(name, baseline_s, ours_s, target, ok)
    RESULTS.append(result)
    print(result.line(), flush=True)
    return result


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    from mercenary_dev.servers import airflow_env as local_airflow_env

    return {**local_airflow_env(home), **extra}


# The baseline of the DAG benchmarks: a trivial one-task DAG file (parse cost, cost per run).
TRIVIAL_DAG = textwrap.dedent('''
    """A trivial one-task DAG (an Airflow DAG file): the baseline of the benchmarks."""
    from datetime import datetime

    from airflow.sdk import DAG, task

    with DAG(dag_id="trivial", schedule=None, start_date=datetime(2026, 1, 1)):
        @task
        def hello() -> None:
            print("hello")

        hello()
''')


def timed_process(argv: Sequence[str], env: dict[str, str], timeout: float = 600) -> float:
    """Run ``argv`` in its own process group; on a timeout or an interrupt the whole group is killed."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except BaseException:
        stop_group(proc)
        raise
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]} exited {proc.returncode}: {stderr[-2000:]}")
    return elapsed


def stop_group(proc: subprocess.Popen[Any], grace_s: float = 5.0) -> None:
    """SIGTERM the process group ``proc`` leads, SIGKILL it after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(grace_s)
            return
        except subprocess.TimeoutExpired:
            continue
