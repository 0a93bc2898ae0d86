"""Log archival, retention, temp cleanup and error review on simulated hosts (real sshd, SFTP, real S3)."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import yaml
import zstandard

from mercenary_maintenance.logs import bodies
from mercenary_maintenance.logs.tasks import ARCHIVE
from tests.integration.hosts.helpers import run_body

DAY = 86400
OLD = time.time() - 10 * DAY


@pytest.fixture
def bucket(s3):
    name = f"hostlogs-{uuid.uuid4().hex[:10]}"
    s3.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def files_config(sim_hosts, write_config, connections, s3, bucket):
    conn = {"conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": s3.endpoint, "region_name": "us-east-1"}}
    connections({**sim_hosts.connection_env(), "AIRFLOW_CONN_MAINTENANCE_S3": json.dumps(conn)})

    def write(**extra):
        return write_config({
            "targets": {"postgres": [], "redis": [], "hosts": sim_hosts.host_entries()},
            "timeouts": {"ssh": {"connect_s": 2, "command_s": 20}},
            "backups": {"bucket": bucket},
            "logs": {"sets": [{"name": "app", "paths": ["/var/log/mercenary/*.log"], "archive_after_days": 7}],
                     "quiet_minutes": 15},
            **extra})
    return write


def _objects(s3, bucket):
    client = s3.client()
    listing = client.list_objects_v2(Bucket=bucket, Prefix="logs/").get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing}


def _exists(host, path):
    return host.sh(f"test -e {path} && echo yes || echo no").strip() == "yes"


def _hold_open(host, path):
    """A process on the host keeps ``path`` open (until killed): its pid."""
    return host.sh(f"sh -c 'exec 3<{path}; exec sleep 300' >/dev/null 2>&1 & echo $!").strip()


def test_archive_from_the_right_host_verified_then_deleted_open_file_kept(sim_hosts, files_config, s3, bucket,
                                                                           tmp_path):
    files_config()
    app1, app2 = sim_hosts["app1"], sim_hosts["app2"]
    app1.sh("rm -rf /var/log/mercenary/*")
    app2.sh("rm -rf /var/log/mercenary/*")
    app1.write("/var/log/mercenary/old.log", "app1 old line\n" * 100, mtime=OLD)
    app1.write("/var/log/mercenary/held.log", "app1 held\n", mtime=OLD)
    app1.write("/var/log/mercenary/new.log", "app1 recent\n")
    app2.write("/var/log/mercenary/old.log", "app2 old line\n", mtime=OLD)
    pid = _hold_open(app1, "/var/log/mercenary/held.log")
    try:
        found, error = run_body(ARCHIVE.body, tmp_path, "arch1", "app1")
    finally:
        app1.sh(f"kill {pid}", check=False)
    assert error is None, error
    action = found[("logs.archive", "app1:app")]
    assert action["status"] == "done", action
    assert action["details"]["archived"] == 1, action
    assert action["details"]["deleted"] == 1, action
    assert {"path": "/var/log/mercenary/held.log", "reason": "open by a process on the host; kept"} \
        in action["details"]["skipped"]
    objects = _objects(s3, bucket)
    texts = {k: zstandard.ZstdDecompressor().decompressobj().decompress(v).decode() for k, v in objects.items()}
    assert any("/app1/old.log." in k and v == "app1 old line\n" * 100 for k, v in texts.items()), list(texts)
    assert not any("app2" in k for k in texts), "app2's files are archived by app2's task only"
    assert not _exists(app1, "/var/log/mercenary/old.log")       # verified, then deleted there
    assert _exists(app1, "/var/log/mercenary/held.log")          # open: kept
    assert _exists(app1, "/var/log/mercenary/new.log")           # recent: kept
    assert _exists(app2, "/var/log/mercenary/old.log")           # other host untouched
    assert found[("host.disk_usage", "app1:/var/log/mercenary")]["details"]["phase"] in ("before", "after")


def test_unreadable_open_files_mean_nothing_is_deleted(sim_hosts, files_config, s3, bucket, tmp_path):
    files_config()
    app2 = sim_hosts["app2"]
    app2.sh("rm -rf /var/log/mercenary/*")
    app2.write("/var/log/mercenary/old.log", "app2 old\n", mtime=OLD)
    # The host's find cannot read other users' /proc/*/fd: a stand-in that says so.
    app2.write("/usr/local/sbin/find", "#!/bin/sh\necho 'find: /proc/1/fd: Permission denied' >&2\nexit 1\n",
               mode="755")
    try:
        found, error = run_body(ARCHIVE.body, tmp_path, "arch2", "app2")
    finally:
        app2.sh("rm -f /usr/local/sbin/find")
    assert error is None, error
    action = found[("logs.archive", "app2:app")]
    assert action["details"]["archived"] == 1
    assert action["details"]["deleted"] == 0
    assert "could not be read" in action["details"]["skipped"][0]["reason"]
    assert _exists(app2, "/var/log/mercenary/old.log")


def test_retention_counts_the_files_left_on_each_host(sim_hosts, files_config, tmp_path):
    files_config(logs={"sets": [{"name": "app", "paths": ["/var/log/mercenary/*.log"], "max_local_bytes": 1000}]})
    app1 = sim_hosts["app1"]
    app1.sh("rm -rf /var/log/mercenary/*")
    app1.write("/var/log/mercenary/big.log", "x" * 5000)
    found, _ = run_body(bodies.check_retention, tmp_path, "ret1", "app1")
    finding = found[("logs.retention", "app1:app")]
    assert finding["value"] == 5000
    assert "over the budget" in finding["message"]


def test_tmp_cleanup_on_the_host_keeps_open_and_recent_files(sim_hosts, files_config, tmp_path):
    files_config(cleanup={"roots": ["/tmp/mercenary"], "older_than_days": 7, "dry_run": False})
    app1 = sim_hosts["app1"]
    app1.sh("rm -rf /tmp/mercenary/* && mkdir -p /tmp/mercenary/sub")
    app1.write("/tmp/mercenary/sub/old.tmp", "old", mtime=OLD)
    app1.write("/tmp/mercenary/held.tmp", "held", mtime=OLD)
    app1.write("/tmp/mercenary/new.tmp", "new")
    pid = _hold_open(app1, "/tmp/mercenary/held.tmp")
    try:
        found, error = run_body(bodies.clean_tmp, tmp_path, "tmp1", "app1")
    finally:
        app1.sh(f"kill {pid}", check=False)
    assert error is None, error
    action = found[("tmp.cleanup", "app1:/tmp/mercenary")]
    assert action["status"] == "done"
    assert action["details"]["deleted"] == 1
    assert not _exists(app1, "/tmp/mercenary/sub/old.tmp")
    assert _exists(app1, "/tmp/mercenary/held.tmp")
    assert _exists(app1, "/tmp/mercenary/new.tmp")


def test_error_lines_are_counted_per_host_once(sim_hosts, files_config, tmp_path):
    files_config(logs={"sets": [], "error_scan": [{"name": "app", "paths": ["/var/log/mercenary/*.log"],
                                                    "warning": 2, "critical": 50}]})
    app1, app2 = sim_hosts["app1"], sim_hosts["app2"]
    for host in (app1, app2):
        host.sh("rm -rf /var/log/mercenary/* && echo 'INFO start' > /var/log/mercenary/app.log")
    run_body(bodies.scan_errors, tmp_path, "e0", "app1")   # baselines
    run_body(bodies.scan_errors, tmp_path, "e0b", "app2")
    app1.sh("printf 'ERROR one\\nERROR two\\nINFO fine\\nFATAL three\\n' >> /var/log/mercenary/app.log")
    one, _ = run_body(bodies.scan_errors, tmp_path, "e1", "app1")
    two, _ = run_body(bodies.scan_errors, tmp_path, "e2", "app2")
    again, _ = run_body(bodies.scan_errors, tmp_path, "e3", "app1")
    assert one[("logs.errors", "app1:app")]["value"] == 3
    assert one[("logs.errors", "app1:app")]["severity"] == "warning"
    assert two[("logs.errors", "app2:app")]["value"] == 0
    assert again[("logs.errors", "app1:app")]["value"] == 0   # counted once


def test_black_hole_host_archive_is_bounded_and_fails_naming_it(sim_hosts, files_config, write_config, bucket,
                                                                tmp_path):
    files_config()
    cfg_path = tmp_path / "maintenance.yaml"
    data = yaml.safe_load(cfg_path.read_text())
    data["targets"]["hosts"].append({"name": "dead", "ssh_conn_id": "maintenance_ssh_dead"})
    cfg_path.write_text(yaml.safe_dump(data))
    started = time.monotonic()
    found, error = run_body(ARCHIVE.body, tmp_path, "dead1", "dead")
    assert time.monotonic() - started < 3 * 2 + 5
    assert error is not None
    assert found[("logs.archive", "dead:app")]["status"] == "failed"
    assert "unreachable" in found[("logs.archive", "dead:app")]["message"]
