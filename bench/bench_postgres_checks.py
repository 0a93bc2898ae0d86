"""Benchmark: our daily PostgreSQL checks and bloat estimate vs Debian's ``check_postgres``.

One PostgreSQL 15 server, a database with 10,000 tables (each with a primary key, analyzed)
and 200 client sessions, 50 of them idle in transaction. Side by side on the same state:

* ``bodies.check_daily`` (blocked locks, long transactions incl. idle, connections, wraparound,
  sequences, replication — one session) vs ``check_postgres`` actions locks, txn_time,
  txn_idle, txn_wraparound, backends (one process each, summed). Target ≤ 0.5×.
* our bloat estimate (``bloat.sql`` over every relation) vs ``check_postgres --action=bloat``.
  Target ≤ 1.0×.

Both sides flag the same things: each pair's outcome is printed next to each other.
Run: ``python bench/bench_postgres_checks.py`` (``BENCH_TABLES=2000`` for a quick run).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

TABLES = int(os.environ.get("BENCH_TABLES", "10000"))
SESSIONS, IDLE_IN_TX = 200, 50
RUNS = 3
IDLE_LIMIT_S = 2  # both sides: transactions older than this are reported


def _line(name: str, baseline: float, ours: float, target: str, ok: bool) -> None:
    try:
        from bench._common import report
    except ImportError:  # run outside the repository root
        print(f"{name}: baseline {baseline:.3f} s, ours {ours:.3f} s, ratio {ours / baseline:.2f} ({target})")
        return
    report(name, baseline, ours, target, ok)


def build(pg: Any, db: str) -> list[Any]:
    pg.create_database(db)
    with pg.connect(db) as conn:
        conn.execute(
            "CREATE FUNCTION pg_temp.make_tables(a int, b int) RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
            "FOR i IN a..b LOOP EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i); END LOOP; END $$"
        )
        for start in range(1, TABLES + 1, 1000):
            conn.execute("SELECT pg_temp.make_tables(%s, %s)", [start, min(start + 999, TABLES)])
        conn.execute("INSERT INTO t1 SELECT g, md5(g::text) FROM generate_series(1, 50000) g")
        conn.execute("DELETE FROM t1 WHERE id % 3 <> 0")
        conn.execute("VACUUM ANALYZE")
    sessions = []
    for i in range(SESSIONS):
        conn = pg.connect(db, autocommit=i >= IDLE_IN_TX)
        conn.execute("SELECT 1")  # the first 50 stay idle in transaction
        sessions.append(conn)
    time.sleep(IDLE_LIMIT_S + 0.5)
    return sessions


def check_postgres(pg: Any, db: str, action: str, *extra: str) -> tuple[float, str]:
    env = {**os.environ, "PGPASSWORD": pg.password}
    argv = ["check_postgres", f"--action={action}", "-H", "127.0.0.1", "-p", str(pg.port), "-db", db,
            "-u", pg.user, *extra]
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    return elapsed, (proc.stdout.strip().split(" | ")[0] or proc.stderr.strip())[:160]


def main() -> int:
    if shutil.which("check_postgres") is None:
        print("check_postgres missing: apt-get install check-postgres", file=sys.stderr)
        return 2
    from mercenary_dev import servers

    from mercenary_maintenance.config import parse_config
    from mercenary_maintenance.pg.session import open_session
    from mercenary_maintenance.postgres import bodies
    from mercenary_maintenance.runinfo import RunInfo
    from mercenary_maintenance.steps import Step

    pg = servers.PostgresServer(major=15).start()
    sessions: list[Any] = []
    try:
        db = "bench"
        t0 = time.perf_counter()
        sessions = build(pg, db)
        print(f"built {TABLES} tables and {SESSIONS} sessions ({IDLE_IN_TX} idle in transaction) "
              f"in {time.perf_counter() - t0:.1f}s", flush=True)
        os.environ["AIRFLOW_CONN_BENCH_PG"] = pg.uri(db)
        cfg = parse_config({"targets": {"postgres": [{"name": "main", "conn_id": "bench_pg"}]},
                            "postgres": {"long_transaction_seconds": IDLE_LIMIT_S, "bloat_min_bytes": 0}})
        target = cfg.postgres_target("main")

        def ours_daily() -> tuple[float, Step]:
            step = Step(cfg, RunInfo(dag_id="bench", run_id="bench"))
            started = time.perf_counter()
            bodies.check_daily(step, "main")
            return time.perf_counter() - started, step

        ours_daily()  # warm: imports of the hook and psycopg are not part of a check
        daily_runs = [ours_daily() for _ in range(RUNS)]
        ours_s = statistics.median(t for t, _ in daily_runs)
        step = daily_runs[-1][1]

        cp_actions = [
            ("locks", ()),
            ("txn_time", (f"--warning={IDLE_LIMIT_S}", "--critical=3600")),
            ("txn_idle", (f"--warning={IDLE_LIMIT_S}", "--critical=3600")),
            ("txn_wraparound", ()),
            ("backends", ()),
        ]
        baseline_total = 0.0
        outputs = {}
        for action, extra in cp_actions:
            runs = [check_postgres(pg, db, action, *extra) for _ in range(RUNS)]
            baseline_total += statistics.median(t for t, _ in runs)
            outputs[action] = runs[-1][1]
        _line("postgres daily checks vs check_postgres (5 actions)", baseline_total, ours_s, "≤ 0.5×",
              ours_s <= 0.5 * baseline_total)
        pairs = {"locks": "postgres.blocked_locks", "txn_time": "postgres.long_running_transactions",
                 "txn_idle": "postgres.long_running_transactions", "txn_wraparound": "postgres.txid_wraparound",
                 "backends": "postgres.connections"}
        for action, check in pairs.items():
            f = next(x for x in step.findings if x.check == check)
            print(f"  check_postgres {action}: {outputs[action]}")
            print(f"  ours {check}: {f.severity.label} value={f.value} — {f.message[:110]}")

        def ours_bloat() -> tuple[float, list[dict[str, Any]]]:
            with open_session(target, purpose="bench", lock_timeout_s=5, statement_timeout_s=600,
                              timeouts=step.cfg.timeouts) as s:
                started = time.perf_counter()
                rows = s.rows("bloat", {"min_bytes": 0})
                return time.perf_counter() - started, rows

        ours_bloat()
        bloat_runs = [ours_bloat() for _ in range(RUNS)]
        bloat_s = statistics.median(t for t, _ in bloat_runs)
        cp_bloat = [check_postgres(pg, db, "bloat") for _ in range(RUNS)]
        cp_bloat_s = statistics.median(t for t, _ in cp_bloat)
        _line("postgres bloat estimate vs check_postgres bloat", cp_bloat_s, bloat_s, "≤ 1.0×", bloat_s <= cp_bloat_s)
        worst = bloat_runs[-1][1][:3]
        print(f"  check_postgres bloat: {cp_bloat[-1][1]}")
        print("  ours worst: " + "; ".join(f"{r['kind']} {r['name']} {r['bloat_percent']}% wasted {r['wasted_bytes']}B"
                                           for r in worst))
        return 0
    finally:
        for conn in sessions:
            conn.close()
        pg.cleanup()


if __name__ == "__main__":
    sys.exit(main())
