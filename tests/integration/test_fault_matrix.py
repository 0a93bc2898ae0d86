"""The fault matrix (issue 13): a target that accepts TCP and never answers — a "black hole" —
costs each call at most its bound from the ``timeouts`` section, while a healthy target of the
same kind beside it still answers; a connection that goes silent mid-statement is cut; a
``pg_dump`` stopped mid-stream is killed at its deadline and leaves no object behind.

Bounds here are small (1–2 s) so the matrix stays fast; ``docs/reliability.md`` has the figures.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mercenary_dev import servers

from mercenary_maintenance import runner
from mercenary_maintenance.config import TimeoutsConfig

MARGIN_S = 3.0  # scheduling noise on a loaded 2-core CI machine
FAST = TimeoutsConfig.model_validate({
    "postgres": {"connect_s": 2, "read_grace_s": 1},
    "redis": {"connect_s": 1, "read_s": 1},
    "s3": {"connect_s": 1, "read_s": 1, "max_attempts": 2},
    "slack": {"connect_s": 1, "read_s": 1},
    "http": {"connect_s": 1, "read_s": 1},
})


@pytest.fixture
def hole() -> Iterator[servers.BlackHole]:
    server = servers.BlackHole().start()
    yield server
    server.stop()


def timed(fn: Callable[[], Any]) -> tuple[float, BaseException | None, Any]:
    """(seconds, error, value); the figure is printed for docs/reliability.md (``pytest -s``)."""
    started = time.monotonic()
    try:
        value = fn()
    except Exception as exc:
        took = time.monotonic() - started
        print(f"fault-matrix: {took:.2f}s {type(exc).__name__}: {str(exc).splitlines()[0][:100]}")
        return took, exc, None
    return time.monotonic() - started, None, value


# ------------------------------------------------------------------ one call per backend


def test_postgres_black_hole_fails_within_connect_timeout_beside_a_healthy_server(pg, hole, connections):
    from mercenary_maintenance.adapters import postgres

    connections({**pg.connection_env("healthy_pg"),
                 "AIRFLOW_CONN_DEAD_PG": f"postgresql://u:p@127.0.0.1:{hole.port}/postgres"})
    # The healthy one first: it also pays the one-off provider imports, which are not a bound.
    with postgres.connect("healthy_pg", purpose="fault matrix", timeouts=FAST) as conn:
        row = conn.execute("SELECT current_setting('application_name')").fetchone()
        sock = socket.socket(fileno=os.dup(conn.fileno()))
        try:  # our keepalives are on the client's socket (the server's settings are its own)
            keepalive = (sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                         sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                         sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                         sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT))
        finally:
            sock.close()
    assert row == ("mercenary-maintenance:fault matrix",)
    assert keepalive == (1, 10, 5, 3)
    took, error, _ = timed(lambda: postgres.connect("dead_pg", timeouts=FAST))
    assert error is not None
    assert "timeout" in str(error).lower(), error
    assert took < 2 + MARGIN_S, f"dead PostgreSQL took {took:.1f}s (connect_s=2)"


def test_redis_black_hole_fails_within_its_bound_beside_a_healthy_server(redis_server, hole, connections):
    from mercenary_maintenance.adapters import redis

    connections({**redis_server.connection_env("healthy_redis"),
                 "AIRFLOW_CONN_DEAD_REDIS": f"redis://127.0.0.1:{hole.port}/0"})
    assert redis.connect("healthy_redis", timeouts=FAST).ping() is True
    took, error, _ = timed(lambda: redis.connect("dead_redis", timeouts=FAST).ping())
    assert error is not None
    assert "timeout" in str(error).lower(), error
    assert took < 2 * (1 + 1) + MARGIN_S, f"dead Redis took {took:.1f}s (read_s=1, one retry)"


def test_s3_black_hole_fails_within_read_timeout_times_attempts_beside_moto(s3, hole, connections):
    from mercenary_maintenance.adapters import s3 as adapter

    dead = {"conn_type": "aws", "login": "k", "password": "s",
            "extra": {"endpoint_url": hole.url, "region_name": "us-east-1"}}
    connections({**s3.connection_env("healthy_s3"), "AIRFLOW_CONN_DEAD_S3": json.dumps(dead)})
    assert "Buckets" in adapter.client("healthy_s3", timeouts=FAST).list_buckets()
    dead_client = adapter.client("dead_s3", timeouts=FAST)
    took, error, _ = timed(dead_client.list_buckets)
    assert error is not None
    assert "timeout" in str(error).lower(), error
    assert took < 2 * 1 + MARGIN_S, f"dead S3 took {took:.1f}s (read_s=1 × max_attempts=2)"


def test_slack_black_hole_fails_within_its_bound_beside_a_healthy_receiver(slack, hole, connections):
    from mercenary_maintenance.adapters import slack as adapter

    dead = {"conn_type": "slackwebhook", "password": f"{hole.url}/services/T0/B0/dead"}
    connections({**slack.connection_env("healthy_slack"), "AIRFLOW_CONN_DEAD_SLACK": json.dumps(dead)})
    adapter.post("healthy_slack", "hello", timeouts=FAST)
    assert [m["text"] for m in slack.messages] == ["hello"]
    took, error, _ = timed(lambda: adapter.post("dead_slack", "hello", timeouts=FAST))
    assert error is not None
    assert "timed out" in str(error).lower(), error
    # One attempt (slack_sdk does not retry a read timeout); delivery retries are delivery's.
    assert took < 1 + MARGIN_S, f"dead Slack took {took:.1f}s"


def test_http_and_prometheus_black_holes_fail_within_their_bound(hole, connections):
    from mercenary_maintenance.adapters import http

    site = servers.WebSite().start()
    try:
        took, error, _ = timed(lambda: http.get(hole.url, timeouts=FAST))
        assert error is not None
        assert "timed out" in str(error).lower(), error
        assert took < 1 + MARGIN_S
        assert http.get(site.url, timeouts=FAST).status == 200
    finally:
        site.stop()
    connections({"AIRFLOW_CONN_DEAD_PROM": json.dumps({"conn_type": "http", "host": "127.0.0.1",
                                                       "port": hole.port, "schema": "http"})})
    took, error, _ = timed(lambda: http.prometheus_query("dead_prom", timeouts=FAST)("up"))
    assert error is not None
    assert "timed out" in str(error).lower(), error
    assert took < 1 + MARGIN_S, f"dead Prometheus took {took:.1f}s"


# ------------------------------------------------------------------ silent mid-statement


def test_connection_that_goes_silent_mid_statement_is_cut_at_its_bound(pg, connections):
    """A stopped backend still answers TCP keepalives (its kernel does): only the client-side
    bound (statement_timeout + read_grace_s) ends the wait."""
    from mercenary_maintenance.adapters.postgres import ReadTimeout
    from mercenary_maintenance.config import PostgresTarget
    from mercenary_maintenance.pg.session import open_session

    connections(pg.connection_env("silent_pg"))
    target = PostgresTarget(name="silent", conn_id="silent_pg")
    with open_session(target, purpose="silent", lock_timeout_s=1, statement_timeout_s=2,
                      budget=lambda: 2.0, timeouts=FAST) as session:
        pid = int(session.conn.execute("SELECT pg_backend_pid()").fetchone()[0])
        os.kill(pid, signal.SIGSTOP)
        try:
            took, error, _ = timed(lambda: session.rows("connections"))
        finally:
            os.kill(pid, signal.SIGCONT)
    assert isinstance(error, ReadTimeout), error
    assert "query connections" in str(error)
    assert took < 2 + 1 + MARGIN_S, f"silent server held the statement {took:.1f}s (bound 3 s)"


def test_statement_timeout_is_re_derived_before_each_statement(pg, connections):
    from mercenary_maintenance.config import PostgresTarget
    from mercenary_maintenance.pg.session import open_session

    left = iter([50.0, 20.0, 5.0])
    connections(pg.connection_env("budget_pg"))
    target = PostgresTarget(name="budget", conn_id="budget_pg")
    seen = []
    with open_session(target, purpose="budget", lock_timeout_s=1, statement_timeout_s=30,
                      budget=lambda: next(left), timeouts=FAST) as session:
        for _ in range(3):
            session.rows("connections")
            seen.append(session.conn.execute("SHOW statement_timeout").fetchone()[0])
    assert seen == ["30s", "20s", "5s"]  # capped by the ceiling, then the time left


# ------------------------------------------------------------------ subprocess deadlines


def test_run_kills_the_whole_process_group_at_the_deadline_and_names_the_program(tmp_path):
    marker = tmp_path / "grandchild.pid"
    script = f"sleep 60 & echo $! > {marker}; wait"
    started = time.monotonic()
    with pytest.raises(runner.CommandTimeout, match=r"sh hung: .* deadline of 1s"):
        runner.run(["sh", "-c", script], timeout=1)
    assert time.monotonic() - started < 1 + MARGIN_S
    grandchild = int(marker.read_text())
    time.sleep(0.2)
    assert not Path(f"/proc/{grandchild}").exists() or "Z" in Path(f"/proc/{grandchild}/stat").read_text().split()[2]


def test_spawned_child_stopped_is_killed_by_the_watchdog_even_without_wait():
    child = runner.spawn(["sh", "-c", "kill -STOP $$; echo never"], timeout=1)
    assert child.stdout is not None
    started = time.monotonic()
    assert child.stdout.read() == b""  # EOF once the watchdog killed the group
    assert time.monotonic() - started < 1 + MARGIN_S
    with pytest.raises(runner.CommandTimeout, match="sh hung"):
        child.wait()


# ------------------------------------------------------------------ pg_dump stopped mid-stream


def _stopping_pg_dump(tmp_path: Path) -> Path:
    """A bin dir whose pg_dump streams 64 kB of the real dump, then SIGSTOPs its process group
    (the real pg_dump included): a dump that hangs mid-stream with its pipe still open."""
    from mercenary_maintenance.backups.binaries import client_dir

    real = client_dir(15)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("pg_restore", "pg_dumpall", "postgres"):
        (bindir / name).symlink_to(real / name)
    wrapper = bindir / "pg_dump"
    wrapper.write_text(f'#!/bin/sh\ncase "$1" in --version) exec {real}/pg_dump "$@";; esac\n'
                       f'{real}/pg_dump "$@" | {{ head -c 65536; kill -STOP 0; cat >/dev/null; }}\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bindir


def test_pg_dump_stopped_mid_stream_is_killed_at_its_deadline_and_leaves_nothing(
        pg, s3, write_config, connections, tmp_path):
    from mercenary_maintenance.backups import bodies
    from mercenary_maintenance.config import load_config
    from mercenary_maintenance.findings import ActionStatus
    from mercenary_maintenance.runinfo import RunInfo
    from mercenary_maintenance.steps import Step

    db = pg.create_database(f"fm_{uuid.uuid4().hex[:8]}")
    pg.execute("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 20000) g", db)
    bucket = f"fm-{uuid.uuid4().hex[:10]}"
    client = s3.client()
    client.create_bucket(Bucket=bucket)
    connections({**pg.connection_env("maintenance_postgres", db), **s3.connection_env("maintenance_s3")})
    write_config({"targets": {"postgres": [{"name": "main"}], "redis": []},
                  "backups": {"bucket": bucket, "part_size_mb": 5, "bin_dir": str(_stopping_pg_dump(tmp_path))},
                  "timeouts": {"subprocess": {"backup_s": 4, "kill_grace_s": 1}}})
    logical = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    step = Step(load_config(), RunInfo(dag_id="backup_full", run_id="scheduled__fm", run_type="scheduled",
                                       logical_date=logical))
    # The one-off provider imports (seconds on a loaded machine) are not what is measured.
    from mercenary_maintenance.adapters import s3 as s3_adapter
    from mercenary_maintenance.pg.params import params

    s3_adapter.client("maintenance_s3", timeouts=step.cfg.timeouts).list_buckets()
    params("maintenance_postgres", step.cfg.timeouts).connect().close()
    started = time.monotonic()
    bodies.backup_full(step, "main")
    took = time.monotonic() - started
    print(f"fault-matrix: backup_full with pg_dump stopped mid-stream: {took:.1f}s")
    [act] = step.actions
    assert act.status is ActionStatus.FAILED
    assert "pg_dump hung" in act.message, act.message
    assert "deadline of 4s" in act.message, act.message
    assert took < 4 + 1 + MARGIN_S + 2, f"stopped pg_dump held the backup {took:.1f}s (deadline 4 s)"
    assert client.list_objects_v2(Bucket=bucket).get("Contents", []) == []  # nothing visible
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # multipart aborted


# ------------------------------------------------------------------ a whole run


def test_daily_run_with_dead_postgres_and_redis_targets_ends_in_bounded_time(
        pg, redis_server, s3, slack, hole, write_config, connections, run_dag, monkeypatch):
    """Before (issue 13): each try on a dead PostgreSQL target took 130 s, the run 14 min 5 s."""
    monkeypatch.setenv("MAINTENANCE_RETRY_DELAY_SECONDS", "0")
    dead_redis = servers.BlackHole().start()
    try:
        connections({**pg.connection_env("maintenance_postgres"), **redis_server.connection_env("maintenance_redis"),
                     **s3.connection_env("maintenance_s3"), **slack.connection_env("maintenance_slack"),
                     "AIRFLOW_CONN_DEAD_PG": f"postgresql://u:p@127.0.0.1:{hole.port}/postgres",
                     "AIRFLOW_CONN_DEAD_REDIS": f"redis://127.0.0.1:{dead_redis.port}/0"})
        write_config({
            "host": {"paths": ["/"]},
            "targets": {"postgres": [{"name": "main"}, {"name": "dead", "conn_id": "dead_pg"}],
                        "redis": [{"name": "cache"}, {"name": "dead", "conn_id": "dead_redis"}]},
            "timeouts": {"postgres": {"connect_s": 2}, "redis": {"connect_s": 1, "read_s": 1}},
        })
        started = time.monotonic()
        state, report = run_dag("maintenance_daily")
        took = time.monotonic() - started
    finally:
        dead_redis.stop()
    print(f"fault-matrix: maintenance_daily with dead PostgreSQL and Redis targets: {took:.1f}s, {state}")
    assert report is not None
    assert state == "failed"  # a check that could not run fails its task (after recording it)
    findings = report["findings"]
    dead = [f for f in findings if f["target"] == "dead" and f["check"].split(".")[0] in ("postgres", "redis")]
    assert {f["check"].split(".")[0] for f in dead} == {"postgres", "redis"}
    for f in dead:
        assert f["severity"] == "unknown", f
        assert "timeout" in f["message"].lower() or "timed out" in f["message"].lower(), f
    healthy = [f for f in findings if f["target"] in ("main", "cache")]
    assert healthy
    assert all(f["severity"] != "unknown" for f in healthy), healthy
    services = {f["target"]: f for f in findings if f["check"] == "services.status"}
    assert services["postgres:main"]["severity"] == "ok"
    assert services["redis:cache"]["severity"] == "ok"
    assert services["postgres:dead"]["severity"] == "critical"
    assert services["redis:dead"]["severity"] == "critical"
    # Three tries of each dead target's tasks at ≤ 2 s each, plus the run's own overhead (parsing,
    # the healthy checks, the report) which on a loaded 2-core machine is the bulk of it.
    assert took < 120, f"maintenance_daily with dead targets took {took:.0f}s"
