"""Benchmark: the restore test's restore (RTO) vs ``pg_restore -j N`` of the same dump from a local file.

One PostgreSQL 15 server with a ~``BENCH_MB`` (300) MB database (a table with two indexes, so
post-data matters) and moto's S3 server in its own process. The dump is taken by our backup
pipeline; then, side by side:

* baseline: ``pg_restore -j N`` of the same (uncompressed) archive from a local file — data and
  post-data only, nothing downloaded, nothing checked;
* ours, ``-j N``: download to a seekable local file (sha256 checked), ``pg_restore -j N`` data then
  post-data, then verification (row counts, samples, pg_amcheck, roles) — its ``restore_seconds``;
* ours, streamed: S3 → zstd → one ``pg_restore`` (what ``restore_jobs: 1`` or too little disk gives).

Run: ``python bench/bench_restore.py`` (``BENCH_MB=100`` for a quick run, ``BENCH_JOBS`` for N).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))


def make_db(pg: Any, name: str, megabytes: float) -> None:
    pg.create_database(name)
    rows = int(megabytes * 2**20 / 160)  # row + its share of two indexes
    pg.execute(f"CREATE TABLE big AS SELECT g::bigint AS id, md5(g::text) AS a, g % 1000 AS k "
               f"FROM generate_series(1, {rows}) g", name)
    pg.execute("ALTER TABLE big ADD PRIMARY KEY (id); CREATE INDEX big_a ON big (a)", name)
    pg.execute("VACUUM ANALYZE", name)


def raw_parallel_restore(pg: Any, dump: Path, jobs: int) -> float:
    from mercenary_maintenance.backups import binaries

    env = dict(os.environ, PGPASSWORD=pg.password)
    pg.create_database("raw_restore")
    started = time.monotonic()
    subprocess.run([binaries.program(15, "pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                    f"--jobs={jobs}", "-h", "127.0.0.1", "-p", str(pg.port), "-U", pg.user, "-d", "raw_restore",
                    str(dump)], env=env, check=True)
    seconds = time.monotonic() - started
    pg.execute("DROP DATABASE raw_restore")
    return seconds


def main() -> int:
    import boto3
    from mercenary_dev import servers

    from mercenary_maintenance.backups import restore
    from mercenary_maintenance.backups.dump import DumpRequest, dump_to_s3
    from mercenary_maintenance.config import TimeoutsConfig
    from mercenary_maintenance.pg.params import PgParams

    megabytes = float(os.environ.get("BENCH_MB", "300"))
    jobs = int(os.environ.get("BENCH_JOBS", "4"))
    pg = servers.PostgresServer(major=15).start()
    s3 = servers.S3Server(own_process=True).start()
    try:
        s3.client().create_bucket(Bucket="bench")
        make_db(pg, "big", megabytes)
        size_mb = int(pg.scalar("SELECT pg_database_size('big')")) / 2**20
        params = PgParams(host="127.0.0.1", port=pg.port, user=pg.user, password=pg.password, dbname="big",
                          timeouts=TimeoutsConfig())
        client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        manifest = dump_to_s3(params, client, DumpRequest(target="big", kind="full", method="pg_dump",
                                                          bucket="bench", directory="postgres/full/big/b/"))
        print(f"database {size_mb:.0f} MB, dump {manifest.details['raw_size'] / 2**20:.0f} MB "
              f"({manifest.size / 2**20:.0f} MB stored), {jobs} jobs, load {os.getloadavg()[0]:.1f}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            work.chmod(0o755)
            local = work / "same.dump"
            restore.download_to_file(client, "bench", manifest.key, local)
            baseline = raw_parallel_restore(pg, local, jobs)
            local.unlink()
            runs = {}
            for name, n in ((f"ours -j {jobs}", jobs), ("ours streamed", 1)):
                res = restore.restore_and_verify(params, client, "bench", manifest, scratch_db=f"mm_restore_b{n}",
                                                 mark=restore.marker("big", "bench"), server_major=15, bin_dir=None,
                                                 statement_timeout_ms="3600000ms", scratch_dir=work, jobs=n)
                if not res.ok:
                    raise RuntimeError(res.problems)
                runs[name] = res
        print(f"baseline pg_restore -j {jobs} from a local file: {baseline:.1f} s")
        for name, res in runs.items():
            phases = ", ".join(f"{k} {v:.1f}" for k, v in res.phases.items() if v is not None)
            restored = sum(res.phases.get(k) or 0.0 for k in ("download", "restore", "post_data"))
            print(f"{name}: restore_seconds {res.restore_seconds:.1f} s ({phases}); download+restore+post-data "
                  f"{restored:.1f} s = {restored / baseline:.2f}x the baseline")
    finally:
        s3.stop()
        pg.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
