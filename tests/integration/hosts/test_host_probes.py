"""The paging service probe (``services.status`` of ``host:<name>``) and the doctor's host probe against
simulated hosts: pinned key, reachable, privileged commands allowed; an unpinned key names the keyscan fix."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from mercenary_maintenance.config import load_config
from mercenary_maintenance.doctor import Context
from mercenary_maintenance.doctor.probes import hosts_probe
from mercenary_maintenance.health.services import probe_host
from mercenary_maintenance.wiring.registry import SERVICE_PROBES

CONNECT_S = 2.0


def _config(sim_hosts, write_config, connections, extra_hosts=()):
    connections(sim_hosts.connection_env())
    write_config({"targets": {"postgres": [], "redis": [], "hosts": [
        *sim_hosts.host_entries(services=[{"name": "sshd", "process": "sshd"}]), *extra_hosts]},
        "timeouts": {"ssh": {"connect_s": CONNECT_S, "command_s": 10}}})
    return load_config()


def test_service_probe_per_host_reachable_services_and_dead(sim_hosts, write_config, connections):
    dead = {"name": "dead", "ssh_conn_id": "maintenance_ssh_dead", "services": []}
    down = {"name": "down", "ssh_conn_id": "maintenance_ssh_app2",
            "services": [{"name": "api", "process": "no-such-api-process"}]}
    cfg = _config(sim_hosts, write_config, connections, [dead, down])
    assert [t.name for t in SERVICE_PROBES["host"].targets(cfg)] == ["app1", "app2", "dead", "down"]
    up = probe_host(cfg, cfg.host_target("app1"))
    assert up.severity.label == "ok", up.message
    assert up.target == "host:app1"
    assert probe_host(cfg, cfg.host_target("down")).severity.label == "critical"
    started = time.monotonic()
    gone = probe_host(cfg, cfg.host_target("dead"))
    assert time.monotonic() - started < 3 * CONNECT_S + 3
    assert gone.severity.label == "critical"
    assert "unreachable" in gone.message


def test_doctor_host_probe(sim_hosts, write_config, connections):
    connections(sim_hosts["app1"].connection_env("maintenance_ssh_loose", pinned=False))
    loose = {"name": "loose", "ssh_conn_id": "maintenance_ssh_loose"}
    dead = {"name": "dead", "ssh_conn_id": "maintenance_ssh_dead"}
    cfg = _config(sim_hosts, write_config, connections, [loose, dead])
    items = {(i.item, i.target): i for i in hosts_probe(Context(cfg=cfg, now=datetime.now(UTC)))}
    assert items[("hosts.host_key", "app1")].status == "ok"
    assert items[("hosts.reachable", "app1")].status == "ok"
    assert items[("hosts.sudo", "app1")].status == "ok", items[("hosts.sudo", "app1")].message
    assert items[("hosts.firewall", "app1")].status == "ok"
    key = items[("hosts.host_key", "loose")]
    assert key.status == "fix"
    assert f"ssh-keyscan -t ed25519 -p {sim_hosts['app1'].port} 127.0.0.1" in key.fix
    assert ("hosts.reachable", "loose") not in items   # refused before connecting
    assert items[("hosts.reachable", "dead")].status == "fix"


def test_doctor_without_hosts_says_the_worker_is_the_host(write_config):
    write_config({"targets": {"postgres": [], "redis": []}})
    items = list(hosts_probe(Context(cfg=load_config(), now=datetime.now(UTC))))
    assert [(i.item, i.target, i.status) for i in items] == [("hosts.configured", "local", "off")]
