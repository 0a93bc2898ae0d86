"""Cost per run in the real runtime: one ``alert_evaluation`` run (it runs 288 times a day) vs
a trivial one-task DAG run, both triggered over REST in the same deployment (api-server,
scheduler, dag-processor, triggerer; LocalExecutor, SQLite) against local PostgreSQL, Redis,
S3 and a Slack receiver. CPU seconds are summed over every process of the deployment (live
processes plus their reaped children: task supervisors and task processes), between the
trigger and the run's end; wall time is trigger → run finished. Target ≤ 1.5× the trivial run.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil
import yaml

from bench._common import ROOT, TRIVIAL_DAG, report

RUNS = 3
RATIO_TARGET = 1.5


def cpu_seconds(pids: list[int]) -> float:
    """User+system CPU of the process trees under ``pids`` (reaped children included)."""
    total = 0.0
    seen: set[int] = set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in procs:
            if proc.pid in seen:
                continue
            seen.add(proc.pid)
            try:
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.NoSuchProcess:
                continue
    return total


def measure(runtime: object, dag_id: str) -> tuple[float, float]:
    from mercenary_dev.runtime import AirflowRuntime

    assert isinstance(runtime, AirflowRuntime)
    api = runtime.client()
    time.sleep(5)  # let the loops settle: idle cost is charged to both sides alike
    cpu0, t0 = cpu_seconds(runtime.pids()), time.perf_counter()
    run_id = api.trigger(dag_id)["dag_run_id"]
    state = api.wait_run(dag_id, run_id, timeout=300)["state"]
    wall, cpu = time.perf_counter() - t0, cpu_seconds(runtime.pids()) - cpu0
    if state != "success":
        raise RuntimeError(f"{dag_id} run {run_id} ended {state}")
    return cpu, wall


def main() -> int:
    from mercenary_dev.runtime import AirflowRuntime
    from mercenary_dev.servers import LocalStack

    home = Path(tempfile.mkdtemp(prefix="mm-bench-cost-"))
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(ROOT / "dags" / "alert_evaluation.py", dags / "alert_evaluation.py")
    (dags / "trivial.py").write_text(TRIVIAL_DAG)
    with LocalStack() as stack:
        config = home / "maintenance.yaml"
        config.write_text(yaml.safe_dump({"reports": {"url": f"file://{home}/reports"}}))
        env = {**stack.connection_env(), "MAINTENANCE_CONFIG": str(config),
               "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
               # only the runs the benchmark triggers (a paused DAG would not run them either)
               "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"}
        with AirflowRuntime(home / "airflow", extra_env=env) as runtime:
            api = runtime.client()
            for dag_id in ("trivial", "alert_evaluation"):
                api.unpause(dag_id)
            measure(runtime, "trivial")  # warm-up: first task process imports
            pairs = [(measure(runtime, "trivial"), measure(runtime, "alert_evaluation")) for _ in range(RUNS)]
    base_cpu = sorted(p[0][0] for p in pairs)[RUNS // 2]
    ours_cpu = sorted(p[1][0] for p in pairs)[RUNS // 2]
    base_wall = sorted(p[0][1] for p in pairs)[RUNS // 2]
    ours_wall = sorted(p[1][1] for p in pairs)[RUNS // 2]
    for i, ((bc, bw), (oc, ow)) in enumerate(pairs, 1):
        print(f"  run {i}: trivial cpu {bc:.2f} s wall {bw:.2f} s | alert_evaluation cpu {oc:.2f} s wall {ow:.2f} s")
    cpu_ok = ours_cpu <= RATIO_TARGET * base_cpu
    report("cost per run, CPU s (all processes): alert_evaluation vs trivial", base_cpu, ours_cpu,
           f"≤ {RATIO_TARGET}×", cpu_ok)
    report("cost per run, wall s: alert_evaluation vs trivial", base_wall, ours_wall, f"≤ {RATIO_TARGET}×",
           ours_wall <= RATIO_TARGET * base_wall)
    return 0


if __name__ == "__main__":
    sys.exit(main())
