"""Sample data with real problems for the demo to find.

PostgreSQL (database ``shop``): ``demo.orders`` with autovacuum disabled and a third of
its rows deleted (dead tuples), an index nobody uses, a few slow queries in
``pg_stat_statements``, and a session left *idle in transaction* for as long as the demo
runs. Redis: keys with a poor hit ratio and one slow command in the slow log. S3: the
backup bucket. Files: application logs old enough to archive and stale temp files.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mercenary_dev.servers import PostgresServer, RedisServer, S3Server

DATABASE = "shop"
ORDERS = 20_000
DELETED_FRACTION = 0.3

SCHEMA_SQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
    "CREATE SCHEMA demo",
    """CREATE TABLE demo.customers (
           id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL)""",
    """CREATE TABLE demo.orders (
           id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES demo.customers(id),
           amount numeric(10,2) NOT NULL, note text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())
       WITH (autovacuum_enabled = false)""",
    # Nobody queries by note: an index that only costs writes and space.
    "CREATE INDEX orders_note_idx ON demo.orders (note)",
    """INSERT INTO demo.customers
       SELECT g, 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 500) g""",
    f"""INSERT INTO demo.orders (id, customer_id, amount, note)
        SELECT g, 1 + g % 500, (g % 997) / 10.0, md5(g::text) FROM generate_series(1, {ORDERS}) g""",
    # A third of the rows deleted with autovacuum off: dead tuples stay until someone vacuums.
    f"DELETE FROM demo.orders WHERE id % 10 < {int(DELETED_FRACTION * 10)}",
]

SLOW_QUERY = "SELECT pg_sleep(0.3), count(*) FROM demo.customers"


@dataclass
class Problems:
    """Handles the demo keeps open while the DAGs run."""

    idle_session: Any  # psycopg.Connection left idle in transaction

    def close(self) -> None:
        try:
            self.idle_session.close()
        except Exception:  # the server may already have dropped it
            pass


def load_postgres(pg: PostgresServer) -> Problems:
    pg.create_database(DATABASE)
    with pg.connect(DATABASE) as conn:
        for statement in SCHEMA_SQL:
            conn.execute(statement)
        conn.execute("ANALYZE demo.customers")
        for _ in range(3):
            conn.execute(SLOW_QUERY)
        # Use the primary key (so only orders_note_idx stays unused).
        conn.execute("SELECT amount FROM demo.orders WHERE id = 42")
    session = pg.connect(DATABASE, autocommit=False)
    session.execute("SET application_name = 'demo-forgotten-session'")
    session.execute("SELECT count(*) FROM demo.customers")  # the transaction stays open, idle
    return Problems(idle_session=session)


def load_redis(redis_server: RedisServer) -> None:
    client = redis_server.client()
    pipe = client.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"session:{i}", "x" * 64)
    pipe.execute()
    pipe = client.pipeline(transaction=False)
    for i in range(200):
        pipe.get(f"session:{i}")  # hits
    for i in range(800):
        pipe.get(f"missing:{i}")  # misses: a cache that mostly misses
    pipe.execute()
    client.execute_command("DEBUG", "SLEEP", "0.15")  # one slow command in the slow log


def create_buckets(s3: S3Server, *buckets: str) -> None:
    client = s3.client()
    for bucket in buckets:
        client.create_bucket(Bucket=bucket)


def make_files(app_logs: Path, tmp_root: Path) -> None:
    """Logs older than the archive age, a fresh one, and stale temp files."""
    old = time.time() - 10 * 86400
    app_logs.mkdir(parents=True, exist_ok=True)
    for day in range(3):
        path = app_logs / f"app-2026-01-0{day + 1}.log"
        path.write_text("".join(f"2026-01-0{day + 1}T00:00:{i % 60:02d}Z INFO request {i}\n" for i in range(500)))
        os.utime(path, (old, old))
    (app_logs / "app.log").write_text("current log\n")
    tmp_root.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        path = tmp_root / f"upload-{i}.part"
        path.write_bytes(b"\0" * 4096)
        os.utime(path, (old, old))


def make_host_files(host: Any, index: int) -> None:
    """On a simulated host: old and fresh app logs, an error line, stale temp files, a config file."""
    old = time.time() - 10 * 86400
    for day in range(2):
        body = "".join(f"2026-01-0{day + 1}T00:00:{i % 60:02d}Z INFO {host.name} request {i}\n" for i in range(300))
        host.write(f"/var/log/mercenary/app-2026-01-0{day + 1}.log", body, mtime=old)
    host.write("/var/log/mercenary/app.log", f"{host.name} current log\n2026-01-05T00:00:00Z ERROR payment timeout\n")
    for i in range(2):
        host.write(f"/tmp/mercenary/upload-{i}.part", "x" * 4096, mtime=old)
    host.write("/etc/mercenary/api.conf", f"listen = 80{index}0\nworkers = {2 + index}\n")
