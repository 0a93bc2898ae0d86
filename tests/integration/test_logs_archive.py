"""Log archival, retention and temp cleanup with real files and a real S3 (moto over HTTP)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import zstandard
from mercenary_dev import servers

from mercenary_maintenance.config import ConfigError, parse_config
from mercenary_maintenance.findings import ActionStatus, Severity
from mercenary_maintenance.logs import archive, bodies
from mercenary_maintenance.logs import s3 as logs_s3
from mercenary_maintenance.logs.tasks import ARCHIVE
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step

DAY = 86400


def _old(path: Path, text: str, days: float = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = time.time() - days * DAY
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def bucket(s3: servers.S3Server) -> str:
    name = f"logs-{uuid.uuid4().hex[:12]}"
    s3.client().create_bucket(Bucket=name)
    return name


def _conn_env(endpoint: str) -> dict[str, str]:
    conn = {"conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1",
                      "config_kwargs": {"retries": {"mode": "standard", "total_max_attempts": 1}}}}
    return {"AIRFLOW_CONN_MAINTENANCE_S3": json.dumps(conn)}


@pytest.fixture
def make_step(s3: servers.S3Server, bucket: str, connections: Callable[[dict[str, str]], None]) -> Callable[..., Step]:
    def make(endpoint: str | None = None, **config: Any) -> Step:
        connections(_conn_env(endpoint or s3.endpoint))
        cfg = parse_config({**config, "backups": {"bucket": bucket, **config.get("backups", {})}})
        return Step(cfg, RunInfo(dag_id="maintenance_weekly", run_id="run1", task_id="logs.archive_logs"))

    return make


def _logs_cfg(app_dir: Path, **extra: Any) -> dict[str, Any]:
    return {"logs": {"sets": [{"name": "app", "paths": [f"{app_dir}/**/*.log"], "archive_after_days": 7,
                               "retention_days": 90, **extra}],
                     "quiet_minutes": 15}}


def _objects(s3: servers.S3Server, bucket: str) -> dict[str, dict[str, Any]]:
    client = s3.client()
    listing = client.list_objects_v2(Bucket=bucket, Prefix="logs/").get("Contents", [])
    return {o["Key"]: client.head_object(Bucket=bucket, Key=o["Key"]) for o in listing}


def _action(step: Step, name: str, target: str | None = None) -> Any:
    return next(a for a in step.actions if a.action == name and (target is None or a.target == target))


def test_old_logs_archived_verified_then_deleted_fresh_kept(tmp_path, s3, bucket, make_step):
    app = tmp_path / "app"
    old = _old(app / "api.log", "GET /health 200\n" * 1000)
    nested = _old(app / "worker" / "bodies.log", "job done\n" * 10)
    fresh = app / "today.log"
    fresh.write_text("still writing\n")
    contents = {str(old): old.read_bytes(), str(nested): nested.read_bytes()}
    step = make_step(**_logs_cfg(app), backups={"server_side_encryption": "AES256"})
    ARCHIVE.body(step)
    action = _action(step, "logs.archive", "app")
    assert action.status is ActionStatus.DONE, action
    assert (action.details["archived"], action.details["deleted"]) == (2, 2)
    assert not old.exists()
    assert not nested.exists()
    assert fresh.exists()
    objects = _objects(s3, bucket)
    assert len(objects) == 2
    client = s3.client()
    for key, head in objects.items():
        assert key.startswith("logs/app/")
        assert key.endswith(".zst")
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == head["Metadata"]["sha256"]
        assert head["ServerSideEncryption"] == "AES256"  # logs hold what backups hold: encrypted at rest
        original = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        assert hashlib.sha256(original).hexdigest() == head["Metadata"]["source-sha256"]
        assert original in contents.values()
    assert any(k.endswith(".zst") and "/worker/bodies.log." in k for k in objects)
    phases = {f.details.get("phase") for f in step.findings if f.check == "host.disk_usage"}
    assert phases == {"before", "after"}


def test_symlink_open_and_appended_files_are_never_touched(tmp_path, s3, bucket, make_step):
    app, outside = tmp_path / "app", tmp_path / "outside"
    secret = _old(outside / "secret.log", "outside the log set\n")
    app.mkdir()
    (app / "link.log").symlink_to(secret)
    held = _old(app / "held.log", "held open\n")
    appended = _old(app / "appended.log", "start\n")
    holder = subprocess.Popen([sys.executable, "-c", f"f = open({str(held)!r}); import time; time.sleep(60)"])
    writer = subprocess.Popen([sys.executable, "-c",
                               f"import time\nwith open({str(appended)!r}, 'a') as f:\n"
                               "    while True:\n        f.write('line\\n'); f.flush(); time.sleep(0.05)"])
    try:
        deadline = time.time() + 10
        while time.time() - appended.stat().st_mtime > 5 or not _holds(holder.pid, held):
            assert time.time() < deadline, "helper processes did not start"
            time.sleep(0.05)
        # archive_after_days 0: only the quiet time and the open-file check protect these files
        step = make_step(**_logs_cfg(app, archive_after_days=0))
        ARCHIVE.body(step)
    finally:
        holder.kill()
        writer.kill()
        holder.wait()
        writer.wait()
    action = _action(step, "logs.archive", "app")
    reasons = {Path(s["path"]).name: s["reason"] for s in action.details["skipped"]}
    assert reasons["held.log"] == "open by a process"
    assert "modified within" in reasons["appended.log"]
    for path in (held, appended, secret):
        assert path.exists()
    assert (app / "link.log").is_symlink()
    assert _objects(s3, bucket) == {}


def _holds(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


class _FlakyS3:
    """A proxy in front of moto that answers 500 to every object PUT after the first one."""

    def __init__(self, upstream_port: int, good_puts: int = 1) -> None:
        self.upstream_port, self.good_puts, self.puts = upstream_port, good_puts, 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _proxy(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                bare = self.path.split("?")[0].strip("/")
                if self.command == "PUT" and "/" in bare:
                    owner.puts += 1
                    if owner.puts > owner.good_puts:
                        self.send_response(500)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                conn = http.client.HTTPConnection("127.0.0.1", owner.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                reply = conn.getresponse()
                payload = reply.read()
                self.send_response(reply.status)
                for key, value in reply.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                conn.close()

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _proxy

        self.httpd = ThreadingHTTPServer(("127.0.0.1", servers.free_port()), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def flaky_s3(s3: servers.S3Server) -> Iterator[_FlakyS3]:
    proxy = _FlakyS3(s3.port)
    yield proxy
    proxy.stop()


def test_s3_failing_from_the_second_upload_deletes_only_verified_files(tmp_path, s3, bucket, make_step, flaky_s3):
    app = tmp_path / "app"
    paths = [_old(app / f"f{i}.log", f"file {i}\n" * 100) for i in range(3)]
    step = make_step(endpoint=flaky_s3.endpoint, **_logs_cfg(app))
    ARCHIVE.body(step)
    action = _action(step, "logs.archive", "app")
    assert action.status is ActionStatus.FAILED
    assert action.details["deleted"] == 1
    assert action.details["failed_count"] == 2
    objects = _objects(s3, bucket)  # straight from moto, not through the proxy
    assert len(objects) == 1
    kept = [p for p in paths if p.exists()]
    assert len(kept) == 2
    deleted = next(p for p in paths if not p.exists())
    (head,) = objects.values()
    expected = hashlib.sha256(f"file {paths.index(deleted)}\n".encode() * 100).hexdigest()
    assert head["Metadata"]["source-sha256"] == expected


def test_rerun_after_crash_between_upload_and_delete(tmp_path, s3, bucket, make_step, monkeypatch):
    app = tmp_path / "app"
    log = _old(app / "api.log", "line\n" * 500)

    def crash(path: str) -> None:
        raise RuntimeError("worker killed before the delete")

    monkeypatch.setattr(archive, "delete_local", crash)
    first = make_step(**_logs_cfg(app))
    ARCHIVE.body(first)
    assert _action(first, "logs.archive", "app").status is ActionStatus.FAILED
    assert log.exists()
    objects_before = _objects(s3, bucket)
    assert len(objects_before) == 1

    monkeypatch.undo()
    uploads: list[str] = []
    original = logs_s3.upload
    monkeypatch.setattr(logs_s3, "upload", lambda c, b, k, p: (uploads.append(k), original(c, b, k, p)))
    second = make_step(**_logs_cfg(app))
    ARCHIVE.body(second)
    action = _action(second, "logs.archive", "app")
    assert action.status is ActionStatus.DONE, action
    assert (action.details["already_archived"], action.details["archived"], action.details["deleted"]) == (1, 0, 1)
    assert uploads == []
    assert not log.exists()
    assert _objects(s3, bucket).keys() == objects_before.keys()


def test_corrupt_object_from_an_earlier_try_is_uploaded_again_not_trusted(tmp_path, s3, bucket, make_step):
    app = tmp_path / "app"
    log = _old(app / "api.log", "important\n" * 50)
    source_sha = hashlib.sha256(log.read_bytes()).hexdigest()
    key = logs_s3.object_key("app", str(app), str(log), log.stat().st_mtime, source_sha)
    s3.client().put_object(Bucket=bucket, Key=key, Body=b"truncated",
                           Metadata={"sha256": "0" * 64, "size": "9", "source-sha256": source_sha})
    step = make_step(**_logs_cfg(app))
    ARCHIVE.body(step)
    action = _action(step, "logs.archive", "app")
    assert (action.status, action.details["archived"], action.details["deleted"]) == (ActionStatus.DONE, 1, 1)
    body = s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    assert zstandard.ZstdDecompressor().decompressobj().decompress(body) == b"important\n" * 50


def test_lifecycle_rule_present_matching_and_other_rules_kept(tmp_path, s3, bucket, make_step):
    client = s3.client()
    foreign = {"ID": "team-scratch", "Filter": {"Prefix": "scratch/"}, "Status": "Enabled", "Expiration": {"Days": 2}}
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [foreign]})
    app = tmp_path / "app"
    _old(app / "a.log", "x")
    cfg = _logs_cfg(app)
    cfg["logs"]["sets"].append({"name": "airflow_tasks", "paths": [f"{tmp_path}/af/**/*.log"],
                                "retention_days": 400, "audit": True})
    step = make_step(**cfg)
    ARCHIVE.body(step)
    assert _action(step, "logs.lifecycle").status is ActionStatus.DONE
    rules = {r["ID"]: r for r in client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    # one document, one writer: the backups' rules are written with the logs' ones, foreign rules kept
    assert set(rules) == {"team-scratch", "mercenary-backup-full", "mercenary-backup-incremental",
                          "mercenary-logs-app", "mercenary-logs-airflow_tasks"}
    assert rules["mercenary-logs-airflow_tasks"]["Expiration"]["Days"] == 400
    assert rules["mercenary-logs-app"]["Filter"]["Prefix"] == "logs/app/"

    again = make_step(**cfg)
    ARCHIVE.body(again)
    assert _action(again, "logs.lifecycle").status is ActionStatus.SKIPPED  # idempotent

    check = make_step(**cfg)
    bodies.check_retention(check)
    assert {f.target: f.severity for f in check.findings} == {"app": Severity.OK, "airflow_tasks": Severity.OK}

    cfg["logs"]["sets"][0]["retention_days"] = 30
    drifted = make_step(**cfg)
    bodies.check_retention(drifted)
    app_finding = next(f for f in drifted.findings if f.target == "app")
    assert app_finding.severity is Severity.CRITICAL
    assert "mercenary-logs-app differs" in app_finding.message


def test_local_size_budget(tmp_path, make_step, bucket):
    app = tmp_path / "app"
    _old(app / "big.log", "x" * 5000, days=0)
    step = make_step(**_logs_cfg(app, max_local_bytes=1000))
    bodies.check_retention(step)
    (finding,) = step.findings
    assert finding.severity is Severity.CRITICAL  # no lifecycle rule yet: critical beats the budget warning
    assert finding.value == 5000
    assert "over the budget" in finding.message


def test_audit_set_must_be_kept_a_year():
    with pytest.raises(ConfigError, match="at least 365 days"):
        parse_config({"logs": {"sets": [{"name": "airflow_tasks", "paths": ["/x/*.log"], "retention_days": 90,
                                         "audit": True}]}})
