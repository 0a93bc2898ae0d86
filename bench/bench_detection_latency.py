"""Detection latency of an outage in the real runtime on the 5-minute schedule: from stopping the
PostgreSQL target to the P1 ``services.status`` notice on Slack.

One deployment (api-server, scheduler, dag-processor, triggerer; LocalExecutor, SQLite) under
libfaketime, ``alert_evaluation`` unpaused on its own ``*/5`` schedule with the default alert
settings (``outage_after_failures: 2``). The worst case is measured: the target stops just after
a scheduled run probed it fine. Between runs the clock is moved to 20 s before the next tick
(only while no task runs), so the 10 minutes of deployment time pass in about a minute; the
latency is read on the deployment's clock. Target ≤ 10 min (+ one run's duration).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from bench._common import ROOT, report

DAG = "alert_evaluation"
TARGET_S = 600.0


def next_tick(now: datetime) -> datetime:
    base = now.replace(second=0, microsecond=0)
    return base + timedelta(minutes=5 - base.minute % 5)


def main() -> int:
    from mercenary_dev.runtime import AirflowRuntime
    from mercenary_dev.servers import LocalStack

    home = Path(tempfile.mkdtemp(prefix="mm-bench-detect-"))
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(ROOT / "dags" / f"{DAG}.py", dags / f"{DAG}.py")
    with LocalStack(with_redis=False) as stack:
        assert stack.postgres is not None
        assert stack.slack is not None
        config = home / "maintenance.yaml"
        config.write_text(yaml.safe_dump({"reports": {"url": f"file://{home}/reports"},
                                          "targets": {"redis": []}, "host": {"paths": []}}))
        env = {**stack.connection_env(), "MAINTENANCE_CONFIG": str(config), "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
        with AirflowRuntime(home / "airflow", extra_env=env, faketime=True) as runtime:
            start = next_tick(datetime.now(UTC) + timedelta(hours=1)) - timedelta(seconds=20)
            runtime.set_clock(start)
            api = runtime.client()
            api.unpause(DAG)
            first = start + timedelta(seconds=20)

            def finished_after(tick: datetime) -> dict[str, object] | None:
                for run in api.runs(DAG):
                    if run.get("run_type") == "scheduled" and run["state"] in ("success", "failed") and \
                            datetime.fromisoformat(str(run["run_after"])) >= tick:
                        return run
                return None

            deadline = time.monotonic() + 300
            while finished_after(first) is None:
                if time.monotonic() > deadline:
                    raise TimeoutError("no scheduled alert_evaluation run finished")
                time.sleep(1)
            stack.postgres.stop()  # worst case: just after a run found it up
            stopped = runtime.now()
            paged_at = None
            tick = next_tick(stopped)
            for _ in range(4):
                runtime.set_clock(tick - timedelta(seconds=20))
                api = runtime.client()
                deadline = time.monotonic() + 300
                while finished_after(tick) is None:
                    if paged_at is None and any("services.status on postgres:main" in m["text"]
                                                for m in stack.slack.messages):
                        paged_at = runtime.now()
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the run of {tick.isoformat()} did not finish")
                    time.sleep(0.5)
                if paged_at is None and any("services.status on postgres:main" in m["text"]
                                            for m in stack.slack.messages):
                    paged_at = runtime.now()
                if paged_at is not None:
                    break
                tick += timedelta(minutes=5)
            api.pause(DAG)
    if paged_at is None:
        raise RuntimeError("no P1 notice within 4 scheduled runs after the stop")
    [page] = [m["text"] for m in stack.slack.messages if "services.status on postgres:main" in m["text"]]
    latency = (paged_at - stopped).total_seconds()
    print(f"  stopped {stopped.isoformat()} (deployment clock), paged {paged_at.isoformat()}: {latency:.0f} s")
    print(f"  notice: {page.splitlines()[0]} / {page.splitlines()[1]}")
    report("detection latency, s: PostgreSQL stopped → P1 on Slack (5-min schedule, worst case)", TARGET_S,
           latency, f"≤ {TARGET_S:.0f} s + one run", latency <= TARGET_S + 60 and "P1" in page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
