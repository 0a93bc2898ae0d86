"""The daily DAG with two Redis targets, one of them down: its checks are unknown, its task
fails, the other target is checked in full, and the run fails loudly."""

from __future__ import annotations

from mercenary_dev import servers


def test_one_redis_target_down_other_finishes_run_fails(pg, redis_server, s3, write_config, connections, run_dag,
                                                        dagbag, monkeypatch):
    # Production retries a failed check (1 min, then 2 min); here the failure must show at once.
    for task in dagbag.get_dag("maintenance_daily").tasks:
        monkeypatch.setattr(task, "retries", 0)
    down = servers.RedisServer()
    down.port = servers.free_port()  # nothing listens there
    connections({**pg.connection_env("maintenance_postgres"), **s3.connection_env("maintenance_s3"),
                 **redis_server.connection_env("maintenance_redis"),
                 "AIRFLOW_CONN_MAINTENANCE_REDIS_DOWN": down.uri()})
    write_config({"host": {"paths": ["/"]},
                  "targets": {"postgres": [{"name": "main"}],
                              "redis": [{"name": "cache"}, {"name": "down", "conn_id": "maintenance_redis_down"}]}})
    state, report = run_dag("maintenance_daily")
    assert report is not None
    redis_findings = [f for f in report["findings"] if f["check"].startswith("redis.")]
    down_findings = [f for f in redis_findings if f["target"] == "down"]
    up_findings = {f["check"]: f for f in redis_findings if f["target"] == "cache"}
    assert down_findings
    assert all(f["severity"] == "unknown" for f in down_findings)
    assert {"redis.memory", "redis.slowlog", "redis.persistence", "redis.hit_ratio", "redis.info"} <= set(up_findings)
    assert all(f["severity"] != "unknown" for f in up_findings.values())
    assert "redis.check_redis[1]" in report["failed_tasks"]
    assert "redis.check_redis[0]" not in report["failed_tasks"]
    assert report["status"] == "failed"
    assert state == "failed"
