"""Per-host disk, inode and service checks over real SSH to simulated hosts (tools/mercenary_dev/hosts.py)."""

from __future__ import annotations

import time

import pytest

from mercenary_maintenance.health import bodies as health
from tests.integration.hosts.helpers import run_body

CONNECT_S = 2.0


@pytest.fixture
def hosts_config(sim_hosts, write_config, connections):
    connections(sim_hosts.connection_env())

    def write(extra_hosts=(), **per_host):
        return write_config({
            "targets": {"postgres": [], "redis": [],
                        "hosts": sim_hosts.host_entries(**per_host) + list(extra_hosts)},
            "timeouts": {"ssh": {"connect_s": CONNECT_S, "command_s": 20}}})
    return write


def test_full_log_filesystem_is_critical_on_that_host_only(sim_hosts, hosts_config, tmp_path):
    hosts_config(services=[{"name": "sshd", "process": "sshd"}, {"name": "api", "process": "mercenary-api-xyz"}])
    app1 = sim_hosts["app1"]
    app1.sh("dd if=/dev/zero of=/var/log/filler bs=1M count=19 2>/dev/null")
    try:
        one, error1 = run_body(health.host_body, tmp_path, "disk1", "app1")
        two, error2 = run_body(health.host_body, tmp_path, "disk2", "app2")
    finally:
        app1.sh("rm -f /var/log/filler")
    assert (error1, error2) == (None, None)
    assert one[("host.disk_usage", "app1:/var/log")]["severity"] == "critical"
    assert one[("host.disk_usage", "app1:/var/log")]["value"] > 90
    assert two[("host.disk_usage", "app2:/var/log")]["severity"] == "ok"
    assert one[("host.inode_usage", "app1:/var/log")]["severity"] == "ok"
    # The process pattern finds sshd on the host; a pattern nothing matches is down.
    assert one[("services.status", "app1:sshd")]["severity"] == "ok"
    assert one[("services.status", "app1:api")]["severity"] == "critical"
    assert "no process matches" in one[("services.status", "app1:api")]["message"]


def test_inodes_exhausted_on_one_host(sim_hosts, hosts_config, tmp_path):
    hosts_config()
    app2 = sim_hosts["app2"]
    # A tmpfs of 1 MB has few inodes: fill them with empty files.
    app2.sh("mkdir -p /tmp/inodes && mount -t tmpfs -o size=1m,nr_inodes=200 tmpfs /tmp/inodes "
            "&& for i in $(seq 1 195); do : > /tmp/inodes/f$i; done")
    try:
        hosts_config(paths=["/tmp/inodes"])
        found, error = run_body(health.host_body, tmp_path, "inodes", "app2")
        other, other_error = run_body(health.host_body, tmp_path, "inodes1", "app1")
    finally:
        app2.sh("umount /tmp/inodes && rmdir /tmp/inodes")
    assert error is None
    assert found[("host.inode_usage", "app2:/tmp/inodes")]["severity"] == "critical"
    # app1 has no such path: unknown, saying so, and the task fails after checking the rest.
    assert other[("host.disk_usage", "app1:/tmp/inodes")]["severity"] == "unknown"
    assert "No such file" in other[("host.disk_usage", "app1:/tmp/inodes")]["message"]
    assert other_error is not None


def test_black_hole_host_is_bounded_unknown_and_the_others_are_done(sim_hosts, hosts_config, tmp_path):
    hosts_config(extra_hosts=[{"name": "dead", "ssh_conn_id": "maintenance_ssh_dead", "paths": ["/", "/var/log"],
                               "services": [{"name": "api", "process": "api"}]}])
    started = time.monotonic()
    dead, error = run_body(health.host_body, tmp_path, "dead", "dead")
    took = time.monotonic() - started
    assert took < 3 * CONNECT_S + 5, f"a silent host cost {took:.1f}s"
    assert error is not None
    assert "dead" in error
    severities = {k: v["severity"] for k, v in dead.items() if k[1].startswith("dead:")}
    assert severities == {("host.disk_usage", "dead:/"): "unknown", ("host.disk_usage", "dead:/var/log"): "unknown",
                          ("services.status", "dead:api"): "unknown"}
    assert "unreachable" in dead[("host.disk_usage", "dead:/")]["message"]
    alive, error = run_body(health.host_body, tmp_path, "alive", "app2")
    assert error is None
    assert alive[("host.disk_usage", "app2:/var/log")]["severity"] == "ok"


def test_unpinned_host_key_is_refused_naming_the_fix(sim_hosts, hosts_config, connections, tmp_path):
    connections(sim_hosts["app1"].connection_env("maintenance_ssh_loose", pinned=False))
    loose = {"name": "loose", "ssh_conn_id": "maintenance_ssh_loose", "paths": ["/var/log"]}
    hosts_config(extra_hosts=[loose])
    found, error = run_body(health.host_body, tmp_path, "loose", "loose")
    message = found[("host.disk_usage", "loose:/var/log")]["message"]
    assert found[("host.disk_usage", "loose:/var/log")]["severity"] == "unknown"
    assert "host_key" in message
    assert "allow_unknown_host_key: true" in message
    assert error is not None
    hosts_config(extra_hosts=[{**loose, "allow_unknown_host_key": True}])
    found, error = run_body(health.host_body, tmp_path, "loose2", "loose")
    assert error is None
    assert found[("host.disk_usage", "loose:/var/log")]["severity"] == "ok"


def test_a_wrong_pinned_key_is_refused(sim_hosts, hosts_config, connections, tmp_path):
    env = sim_hosts["app1"].connection_env("maintenance_ssh_wrong")
    env["AIRFLOW_CONN_MAINTENANCE_SSH_WRONG"] = env["AIRFLOW_CONN_MAINTENANCE_SSH_WRONG"].replace(
        sim_hosts["app1"].host_key_line, sim_hosts["app2"].host_key_line)
    connections(env)
    hosts_config(extra_hosts=[{"name": "wrong", "ssh_conn_id": "maintenance_ssh_wrong", "paths": ["/var/log"]}])
    found, error = run_body(health.host_body, tmp_path, "wrong", "wrong")
    assert found[("host.disk_usage", "wrong:/var/log")]["severity"] == "unknown"
    assert error is not None


def test_no_hosts_configured_means_the_worker_named_local(write_config, tmp_path):
    write_config({"targets": {"postgres": [], "redis": []}, "host": {"paths": ["/"]}})
    found, error = run_body(health.host_body, tmp_path, "local", "local")
    assert error is None
    assert found[("host.disk_usage", "local:/")]["severity"] in ("ok", "warning", "critical")
    assert found[("services.status", "local:*")]["details"] == {"not_configured": True}
