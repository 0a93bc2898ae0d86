"""Console overview with a year of stored runs (about 3,000 reports of every DAG but alerts),
on file:// and on S3 (moto over HTTP).

Baseline: what the overview would cost reading every report (list the runs of each DAG,
read each report.json — the auditor's ``report list`` way). Ours: ``GET /maintenance/``
through the real app (auth stubbed: the JWT check is Airflow's, not ours to time) with a
warm index, a new run written before each request so every refresh ingests one journal
entry. Also printed: the first request on an empty cache (builds it from the journal).
Target: overview < 1 s.

``BENCH_CONSOLE_DAYS`` (default 365) sets how much history is generated.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mercenary_dev import synthetic
from mercenary_dev.servers import S3Server

from bench._common import report
from mercenary_maintenance.console.app import Console, create_app
from mercenary_maintenance.console.auth import require_user
from mercenary_maintenance.report.build import render_markdown
from mercenary_maintenance.report.store import ReportStore, open_store
from mercenary_maintenance.windows.rules import UTC

DAYS = int(os.environ.get("BENCH_CONSOLE_DAYS", "365"))
WARM_REQUESTS = 5
BUCKET = "mercenary-reports"


def read_every_report(store: ReportStore) -> int:
    """The baseline: every report of every DAG read to find the latest state."""
    count = 0
    for dag_id in store.dag_ids():
        for run_id in store.run_ids(dag_id):
            count += store.read_report(dag_id, run_id) is not None
    return count


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(label: str, url: str, store: ReportStore, workdir: Path, env: dict[str, str]) -> None:
    from fastapi.testclient import TestClient

    now = datetime.now(UTC)
    t0 = time.perf_counter()
    runs = synthetic.populate(store, now - timedelta(hours=1), days=DAYS)
    print(f"{label}: wrote {runs} synthetic runs in {time.perf_counter() - t0:.1f} s", flush=True)
    config = workdir / f"{label}.yaml"
    config.write_text(yaml.safe_dump({"reports": {"url": url}, "backups": {"conn_id": "maintenance_s3"},
                                      "console": {"cache_dir": str(workdir / f"cache-{label}"),
                                                  "refresh_seconds": 0}}))
    os.environ.update(env)
    os.environ["MAINTENANCE_CONFIG"] = str(config)
    app = create_app(Console())
    app.dependency_overrides[require_user] = lambda: None
    client = TestClient(app)

    baseline = timed(lambda: read_every_report(store))
    cold = timed(lambda: client.get("/").raise_for_status())
    rng = random.Random(3)
    warm = []
    for i in range(WARM_REQUESTS):
        new = synthetic.report("maintenance_daily", now - timedelta(minutes=30 - i), rng)
        new["run_id"] = f"manual__bench-{i}"
        new["finished_at"] = (now - timedelta(minutes=10 - i)).isoformat()  # each one the newest run
        store.write_report(new, render_markdown(new))
        response = None

        def get() -> None:
            nonlocal response
            response = client.get("/")
            response.raise_for_status()

        warm.append(timed(get))
        assert response is not None
        assert f"manual__bench-{i}" in response.text, "the new run is not on the overview"
    status = timed(lambda: client.get("/api/status").raise_for_status())
    ours = statistics.median(warm)
    print(f"{label}: first request on an empty cache {cold:.2f} s; warm requests {[round(w, 3) for w in warm]}; "
          f"/api/status {status:.3f} s", flush=True)
    report(f"console overview, {runs} runs on {label} (vs reading every report)", baseline, ours, "< 1 s",
           ours < 1.0)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mm-bench-console-") as tmp:
        workdir = Path(tmp)
        measure("file", f"file://{workdir / 'reports'}", open_store(f"file://{workdir / 'reports'}"), workdir, {})
        s3 = S3Server().start()
        try:
            client = s3.client()
            client.create_bucket(Bucket=BUCKET)
            url = f"s3://{BUCKET}/reports"
            measure("s3", url, open_store(url, client=client), workdir, s3.connection_env("maintenance_s3"))
        finally:
            s3.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
