"""Security per host over real SSH: failed SSH logins, pending updates with package-list age, firewall
ruleset changes, the package cache."""

from __future__ import annotations

import time

import paramiko
import pytest

from mercenary_maintenance.health import bodies as health
from mercenary_maintenance.security import bodies as security_bodies
from tests.integration.hosts.helpers import run_body

CONNECT_S = 2.0


@pytest.fixture
def hosts_config(sim_hosts, write_config, connections):
    connections(sim_hosts.connection_env())

    def write(**extra):
        return write_config({"targets": {"postgres": [], "redis": [], "hosts": sim_hosts.host_entries()},
                             "timeouts": {"ssh": {"connect_s": CONNECT_S, "command_s": 20}}, **extra})
    return write


def _failed_login(host, user):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    with pytest.raises(paramiko.AuthenticationException):
        client.connect("127.0.0.1", port=host.port, username=user, password="wrong-password", timeout=5,
                       allow_agent=False, look_for_keys=False)
    client.close()


def _wait_for(host, needle, count, timeout=10.0):
    deadline = time.monotonic() + timeout
    while host.sh("cat /var/log/auth.log", check=False).count(needle) < count:
        assert time.monotonic() < deadline, f"{needle!r} not logged {count} times on {host.name}"
        time.sleep(0.1)


def test_failed_ssh_logins_against_a_host_are_counted_there_since_the_last_run(sim_hosts, hosts_config, tmp_path):
    hosts_config(security={"failed_logins": {"warning": 2, "critical": 50}})
    app1 = sim_hosts["app1"]
    run_body(health.host_logins_body, tmp_path, "l0", "app1")     # the state: from here on
    run_body(health.host_logins_body, tmp_path, "l0b", "app2")
    before = app1.sh("cat /var/log/auth.log").count("Failed password")
    for user in ("root", "mallory", "mallory"):
        _failed_login(app1, user)
    _wait_for(app1, "Failed password", before + 3)
    one, error = run_body(health.host_logins_body, tmp_path, "l1", "app1")
    assert error is None, error
    finding = one[("security.failed_logins", "app1:sshd")]
    assert finding["value"] == 3, finding
    assert finding["severity"] == "warning"
    assert finding["details"]["by_user"] == {"mallory": 2, "root": 1}
    assert finding["details"]["source"] == "/var/log/auth.log"
    two, _ = run_body(health.host_logins_body, tmp_path, "l2", "app2")
    assert two[("security.failed_logins", "app2:sshd")]["value"] == 0   # another host's log
    again, _ = run_body(health.host_logins_body, tmp_path, "l3", "app1")
    assert again[("security.failed_logins", "app1:sshd")]["value"] == 0  # counted once


def test_host_logins_off_says_so(sim_hosts, hosts_config, tmp_path):
    hosts_config(security={"host_logins": False})
    found, error = run_body(health.host_logins_body, tmp_path, "off", "app1")
    assert error is None
    assert found[("security.failed_logins", "app1:sshd")]["details"] == {"not_configured": True}


def test_black_hole_host_logins_are_unknown_within_the_bounds(sim_hosts, hosts_config, tmp_path):
    hosts_config(targets={"postgres": [], "redis": [], "hosts": [
        *sim_hosts.host_entries(), {"name": "dead", "ssh_conn_id": "maintenance_ssh_dead"}]})
    started = time.monotonic()
    found, error = run_body(health.host_logins_body, tmp_path, "dead", "dead")
    assert time.monotonic() - started < 3 * CONNECT_S + 5
    assert found[("security.failed_logins", "dead:sshd")]["severity"] == "unknown"
    assert error is not None


APT_STANDIN = """#!/bin/sh
if [ "$1" = clean ]; then rm -f /var/cache/apt/archives/*.deb; exit 0; fi
cat <<'OUT'
Inst libssl3 [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])
Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/stable [all])
Conf libssl3 (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])
OUT
"""


@pytest.fixture
def apt_standin(sim_hosts):
    """app1's apt: a stand-in answering ``apt-get -s upgrade`` with two upgrades (one from security)."""
    app1 = sim_hosts["app1"]
    app1.write("/usr/local/sbin/apt-get", APT_STANDIN, mode="755")
    app1.sh("rm -rf /var/lib/apt/lists/*_Packages /var/cache/apt/archives/*.deb")
    yield app1
    app1.sh("rm -f /usr/local/sbin/apt-get /var/lib/apt/lists/*_Packages /var/cache/apt/archives/*.deb")


def test_pending_updates_with_fresh_and_stale_package_lists(apt_standin, hosts_config, tmp_path):
    hosts_config(security={"apt_lists_max_age_hours": 48, "package_cache_warning_mb": 1,
                           "package_cache_clean": True})
    app1 = apt_standin
    app1.write("/var/lib/apt/lists/deb.debian.org_dists_bookworm_main_binary-amd64_Packages", "Package: x\n")
    app1.sh("dd if=/dev/zero of=/var/cache/apt/archives/big_1.0_amd64.deb bs=1M count=2 2>/dev/null")
    fresh, error = run_body(security_bodies.host_packages_body, tmp_path, "p1", "app1", dag_id="maintenance_weekly")
    assert error is None, error
    pending = fresh[("security.pending_updates", "app1")]
    assert pending["value"] == 2
    assert pending["severity"] == "warning"   # a security upgrade is pending
    assert pending["details"]["stale"] is False
    assert fresh[("security.patch_sla", "app1")]["details"]["items"][0]["package"] == "libssl3"
    assert fresh[("host.package_cache", "app1")]["severity"] == "warning"
    assert fresh[("host.package_cache_clean", "app1")]["details"]["freed_bytes"] == 2 * 2**20
    assert app1.sh("ls /var/cache/apt/archives").strip() == ""
    # Stale lists: a warning naming it, even with nothing pending.
    app1.write("/usr/local/sbin/apt-get", "#!/bin/sh\nexit 0\n", mode="755")
    app1.sh("touch -d '5 days ago' /var/lib/apt/lists/*_Packages")
    stale, _ = run_body(security_bodies.host_packages_body, tmp_path, "p2", "app1", dag_id="maintenance_weekly")
    pending = stale[("security.pending_updates", "app1")]
    assert pending["severity"] == "warning"
    assert "stale" in pending["message"]
    # No lists at all: never ok.
    app1.sh("rm -f /var/lib/apt/lists/*_Packages")
    none, _ = run_body(security_bodies.host_packages_body, tmp_path, "p3", "app1", dag_id="maintenance_weekly")
    assert none[("security.pending_updates", "app1")]["severity"] == "warning"
    assert "never ran" in none[("security.pending_updates", "app1")]["message"]


def test_firewall_ruleset_changes_on_a_host_are_listed(sim_hosts, hosts_config, tmp_path):
    hosts_config()
    app2 = sim_hosts["app2"]
    rules = "table inet filter { # handle 1\n  chain input { # handle 2\n    tcp dport 22 accept # handle 3\n  }\n}\n"
    app2.write("/etc/mercenary/nft.rules", rules)
    first, error = run_body(security_bodies.host_firewall_body, tmp_path, "f1", "app2", dag_id="maintenance_monthly")
    assert error is None, error
    assert first[("security.firewall_changes", "app2:firewall")]["details"]["baseline"] is True
    app2.write("/etc/mercenary/nft.rules", rules.replace("# handle 3", "# handle 9"))   # handles only: no change
    same, _ = run_body(security_bodies.host_firewall_body, tmp_path, "f2", "app2", dag_id="maintenance_monthly")
    assert same[("security.firewall_changes", "app2:firewall")]["value"] == 0
    app2.write("/etc/mercenary/nft.rules", rules.replace("tcp dport 22 accept", "tcp dport { 22, 5432 } accept"))
    changed, _ = run_body(security_bodies.host_firewall_body, tmp_path, "f3", "app2", dag_id="maintenance_monthly")
    finding = changed[("security.firewall_changes", "app2:firewall")]
    assert finding["severity"] == "warning"
    assert finding["details"]["added"] == ["tcp dport { 22, 5432 } accept"]
    assert finding["details"]["removed"] == ["tcp dport 22 accept"]


def test_patch_sla_is_never_ok_without_fresh_lists(apt_standin, hosts_config, tmp_path):
    hosts_config()
    apt_standin.write("/usr/local/sbin/apt-get", "#!/bin/sh\nexit 0\n", mode="755")
    found, _ = run_body(security_bodies.host_packages_body, tmp_path, "s1", "app1", dag_id="maintenance_weekly")
    assert found[("security.patch_sla", "app1")]["severity"] == "warning"
    assert "stale or missing" in found[("security.patch_sla", "app1")]["message"]
