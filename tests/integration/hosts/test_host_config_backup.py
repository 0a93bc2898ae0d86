"""config.backup on simulated hosts: a changed file is found, stored as a new encrypted version and
committed to a local bare git repository."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid

import pytest

from mercenary_maintenance.backups import bodies
from tests.integration.hosts.helpers import run_body


@pytest.fixture
def setup(sim_hosts, write_config, connections, s3, tmp_path):
    bucket = f"config-{uuid.uuid4().hex[:10]}"
    s3.client().create_bucket(Bucket=bucket)
    conn = {"conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": s3.endpoint, "region_name": "us-east-1"}}
    connections({**sim_hosts.connection_env(), "AIRFLOW_CONN_MAINTENANCE_S3": json.dumps(conn)})
    git = tmp_path / "config.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(git)], check=True)
    write_config({"targets": {"postgres": [], "redis": [],
                              "hosts": sim_hosts.host_entries(config_files=["/etc/mercenary/*.conf"])},
                  "timeouts": {"ssh": {"connect_s": 2, "command_s": 20}},
                  "backups": {"bucket": bucket, "config_files": {"git_url": str(git)}}})
    for name in ("app1", "app2"):
        sim_hosts[name].sh("rm -f /etc/mercenary/*.conf")
        sim_hosts[name].write("/etc/mercenary/api.conf", f"listen = 8080\nhost = {name}\n")
        sim_hosts[name].write("/etc/mercenary/db.conf", "pool = 10\n")
    return bucket, git


def _run(tmp_path, run_id, host):
    """(finding, action or None) of config.backup for ``host``."""
    _, error = run_body(bodies.backup_config, tmp_path, run_id, host)
    assert error is None, error
    finding = action = None
    for path in (tmp_path / "reports" / "maintenance_daily" / run_id / "parts").glob("*.json"):
        part = json.loads(path.read_text())
        finding = next((f for f in part["findings"] if f["check"] == "config.backup"), finding)
        action = next((a for a in part["actions"] if a["action"] == "config.backup"), action)
    return finding, action


def _git(git, *args):
    return subprocess.run(["git", "--git-dir", str(git), *args], check=True, capture_output=True, text=True).stdout


def test_changed_config_file_is_a_new_encrypted_version_committed_to_git(sim_hosts, setup, s3, tmp_path):
    bucket, git = setup
    finding, action = _run(tmp_path, "c1", "app1")
    assert finding["details"]["baseline"] is True
    assert action["status"] == "done"
    finding, action = _run(tmp_path, "c2", "app1")
    assert finding["message"].startswith("no change")
    assert action is None
    sim_hosts["app1"].write("/etc/mercenary/db.conf", "pool = 50\n")
    sim_hosts["app1"].write("/etc/mercenary/new.conf", "x = 1\n")
    finding, action = _run(tmp_path, "c3", "app1")
    assert finding["severity"] == "warning"
    assert finding["details"]["changed"] == ["/etc/mercenary/db.conf"]
    assert finding["details"]["added"] == ["/etc/mercenary/new.conf"]
    assert action["status"] == "done"
    assert "committed" in action["message"]
    client = s3.client()
    manifests = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="config/app1/")["Contents"]
                       if o["Key"].endswith("MANIFEST.json"))
    assert len(manifests) == 2, manifests
    newest = json.loads(client.get_object(Bucket=bucket, Key=manifests[-1])["Body"].read())
    db = newest["files"]["/etc/mercenary/db.conf"]
    obj = client.get_object(Bucket=bucket, Key=db["key"])
    body = obj["Body"].read()
    assert body == b"pool = 50\n"
    assert db["sha256"] == hashlib.sha256(body).hexdigest() == obj["Metadata"]["sha256"]
    assert obj.get("ServerSideEncryption") == "AES256"
    log = _git(git, "log", "--format=%s")
    assert "config.backup app1: added: /etc/mercenary/new.conf; changed: /etc/mercenary/db.conf" in log
    assert _git(git, "show", "HEAD:app1/etc/mercenary/db.conf") == "pool = 50\n"
    assert not any("app2" in line for line in _git(git, "ls-tree", "-r", "--name-only", "HEAD").splitlines())


def test_nothing_configured_says_so(sim_hosts, setup, write_config, tmp_path):
    write_config({"targets": {"postgres": [], "redis": [], "hosts": sim_hosts.host_entries()}})
    found, error = run_body(bodies.backup_config, tmp_path, "n1", "app2")
    assert error is None
    assert found[("config.backup", "app2")]["details"] == {"not_configured": True}
