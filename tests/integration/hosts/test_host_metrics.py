"""alert_evaluation's host metrics per host: through SSH without Prometheus, and from a real Prometheus
scraping a real prometheus-node-exporter running inside one simulated host."""

from __future__ import annotations

import subprocess
import time

import pytest
from mercenary_dev import servers

from mercenary_maintenance.alerts.evaluation import measure
from mercenary_maintenance.config import parse_config
from mercenary_maintenance.hosts import transport_for


def _config(sim_hosts, **extra):
    dead = {"name": "dead", "ssh_conn_id": "maintenance_ssh_dead", "paths": ["/"]}
    return parse_config({"targets": {"postgres": [], "redis": [], "hosts": [*sim_hosts.host_entries(), dead]},
                         "timeouts": {"ssh": {"connect_s": 2, "command_s": 20}}, **extra})


def test_host_metrics_through_ssh_per_host(sim_hosts, connections):
    connections(sim_hosts.connection_env())
    cfg = _config(sim_hosts)
    sim_hosts["app2"].sh("dd if=/dev/zero of=/var/log/filler bs=1M count=19 2>/dev/null")
    try:
        started = time.monotonic()
        found = {(f.check, f.target): f for f, _ in measure(cfg, host=lambda name: transport_for(cfg, name))}
    finally:
        sim_hosts["app2"].sh("rm -f /var/log/filler")
    assert time.monotonic() - started < 90  # includes the first import of the SSH provider (slow under load)
    for host in ("app1", "app2"):
        assert 0 <= found[("host.cpu", host)].value <= 100
        assert 0 < found[("host.memory", host)].value < 100
        assert found[("host.cpu", host)].details["source"] == "transport:ssh"
    assert found[("host.disk_usage", "app2:/var/log")].severity.label == "critical"
    assert found[("host.disk_usage", "app1:/var/log")].severity.label == "ok"
    # The black hole: its metrics are unknown, saying why; the others were measured all the same.
    assert found[("host.cpu", "dead")].severity.label == "unknown"
    assert "not measured" in found[("host.memory", "dead")].message


@pytest.fixture
def node_exporter_in_app1(sim_hosts):
    port = servers.free_port()
    proc = subprocess.Popen(["nsenter", "-t", str(sim_hosts["app1"].proc.pid), "-m", "prometheus-node-exporter",
                             f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
                             "--collector.cpu", "--collector.meminfo", "--collector.filesystem"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    servers.wait_for_port(port, proc=proc)
    prom = servers.PrometheusServer(scrape_targets=[f"127.0.0.1:{port}"]).start()
    yield f"127.0.0.1:{port}", prom
    prom.cleanup()
    proc.terminate()
    proc.wait(timeout=10)


def test_host_metrics_from_prometheus_node_exporter(sim_hosts, connections, node_exporter_in_app1):
    instance, prom = node_exporter_in_app1
    connections(prom.connection_env("maintenance_prometheus"))
    entries = sim_hosts.host_entries()
    entries[0]["prometheus_instance"] = instance
    entries[1]["prometheus_instance"] = "127.0.0.1:1"  # nothing scrapes it
    cfg = parse_config({"targets": {"postgres": [], "redis": [], "hosts": entries},
                        "alerts": {"prometheus_conn_id": "maintenance_prometheus"}})
    deadline = time.monotonic() + 40
    while True:  # rate() needs two scrapes
        found = {(f.check, f.target): f for f, _ in measure(cfg)}
        wanted = (("host.cpu", "app1"), ("host.disk_usage", "app1:/"))
        if all(k in found and found[k].value is not None for k in wanted):
            break
        assert time.monotonic() < deadline, f"no CPU rate from Prometheus: {sorted(found)}"
        time.sleep(1)
    assert 0 <= found[("host.cpu", "app1")].value <= 100
    assert found[("host.memory", "app1")].details["source"] == "prometheus"
    # node_exporter lists the mounts of PID 1's namespace (the machine's, not app1's tmpfs): "/" is ext4 here.
    assert found[("host.disk_usage", "app1:/")].details["instance"] == instance
    for check in ("host.cpu", "host.memory", "host.disk_usage"):
        assert found[(check, "app2")].severity.label == "unknown"
        assert "no node_exporter series for instance '127.0.0.1:1'" in found[(check, "app2")].message
