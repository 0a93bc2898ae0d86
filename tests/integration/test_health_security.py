"""Daily health/security checks against real servers: HTTPS sites with test certificates,
a PostgreSQL log with real failed logins, ports, and (monthly) security groups in moto."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from mercenary_dev import servers

from mercenary_maintenance.health import bodies as health
from mercenary_maintenance.security import bodies as security_bodies
from mercenary_maintenance.steps import StepFailed, execute_step
from tests.unit.test_health_checks import GOOD as GOOD_HEADERS  # the plan's seven headers


def _name(cn: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class CertAuthority:
    def __init__(self, folder: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        self.folder, self.x509, self.hashes, self.ser, self.ec = folder, x509, hashes, serialization, ec
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        self.cert = (x509.CertificateBuilder().subject_name(_name("Test CA")).issuer_name(_name("Test CA"))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - timedelta(days=400)).not_valid_after(now + timedelta(days=400))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def leaf(self, name: str, *, days_left: float, hosts: list[str]) -> tuple[str, str]:
        x509 = self.x509
        key = self.ec.generate_private_key(self.ec.SECP256R1())
        now = datetime.now(UTC)
        sans: list[Any] = []
        for h in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                sans.append(x509.DNSName(h))
        cert = (x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=300)).not_valid_after(now + timedelta(days=days_left))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .sign(self.key, self.hashes.SHA256()))
        certfile, keyfile = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        certfile.write_bytes(cert.public_bytes(self.ser.Encoding.PEM))
        keyfile.write_bytes(key.private_bytes(self.ser.Encoding.PEM, self.ser.PrivateFormat.PKCS8,
                                              self.ser.NoEncryption()))
        return str(certfile), str(keyfile)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ca = CertAuthority(tmp_path_factory.mktemp("certs"))
    specs = {
        "valid": (90, ["127.0.0.1", "localhost"], GOOD_HEADERS),
        "expiring": (10, ["127.0.0.1"], {k: v for k, v in GOOD_HEADERS.items() if k != "Content-Security-Policy"}),
        "expired": (-2, ["127.0.0.1"], {}),
        "wronghost": (90, ["other.example"], GOOD_HEADERS),
    }
    started = {}
    for name, (days, hosts, hdrs) in specs.items():
        certfile, keyfile = ca.leaf(name, days_left=days, hosts=hosts)
        started[name] = servers.WebSite(headers=hdrs, certfile=certfile, keyfile=keyfile).start()
    started["plain"] = servers.WebSite(status=503).start()
    yield {"ca_file": str(ca.ca_file), **started}
    for site in started.values():
        site.cleanup()


def context(run_id: str) -> dict[str, Any]:
    dag_run = SimpleNamespace(dag_id="maintenance_daily", run_id=run_id, run_type="manual", logical_date=None,
                              triggering_user_name=None, data_interval_start=None, data_interval_end=None)
    return {"dag_run": dag_run, "ti": SimpleNamespace(task_id="t", map_index=-1, try_number=1), "params": {}}


def run_body(body: Callable[..., None], tmp_path: Path, run_id: str = "r1") -> tuple[dict[str, Any], str | None]:
    """Run a task body; return (findings by (check, target), the task's error or None)."""
    error = None
    try:
        execute_step(body, context=context(run_id))
    except StepFailed as exc:
        error = str(exc)
    folder = tmp_path / "reports" / "maintenance_daily" / run_id / "parts"
    part = json.loads(next(folder.glob("*.json")).read_text())
    found = {(f["check"], f["target"]): f for f in part["findings"]}
    for a in part["actions"]:
        found[(a["action"], a["target"])] = a
    return found, error


@pytest.fixture
def http_targets(sites: dict[str, Any], write_config: Callable[..., Path]) -> Callable[..., Path]:
    def write(**extra: Any) -> Path:
        targets = [{"name": n, "url": sites[n].url + "/health", "ca_file": sites["ca_file"], "timeout_seconds": 5}
                   for n in ("valid", "expiring", "expired", "wronghost", "plain")]
        return write_config({"targets": {"postgres": [], "redis": [], "http": targets}, **extra})
    return write


def test_tls_expiry_and_validity(http_targets, tmp_path):
    http_targets()
    found, error = run_body(health.tls_body, tmp_path)
    assert error is None
    sev = {(c, t): f["severity"] for (c, t), f in found.items()}
    assert sev[("tls.certificate_expiry", "valid")] == "ok"
    assert sev[("tls.certificate_validity", "valid")] == "ok"
    assert sev[("tls.certificate_expiry", "expiring")] == "warning"
    assert 9 <= found[("tls.certificate_expiry", "expiring")]["value"] <= 10
    assert sev[("tls.certificate_expiry", "expired")] == "critical"
    assert found[("tls.certificate_expiry", "expired")]["value"] < 0
    assert sev[("tls.certificate_validity", "expired")] == "critical"
    assert sev[("tls.certificate_expiry", "wronghost")] == "ok"
    assert sev[("tls.certificate_validity", "wronghost")] == "critical"
    assert "mismatch" in found[("tls.certificate_validity", "wronghost")]["message"].lower()
    assert not any(t == "plain" for _, t in found)  # http:// has no certificate


def test_untrusted_chain_is_critical(sites, write_config, tmp_path):
    write_config({"targets": {"postgres": [], "redis": [], "http": [{"name": "valid", "url": sites["valid"].url}]}})
    found, _ = run_body(health.tls_body, tmp_path)
    assert found[("tls.certificate_validity", "valid")]["severity"] == "critical"
    assert "certificate" in found[("tls.certificate_validity", "valid")]["message"]


def test_security_headers_scored(http_targets, tmp_path):
    http_targets()
    found, error = run_body(health.headers_body, tmp_path)
    assert found[("http.security_headers", "valid")]["severity"] == "ok"
    assert found[("http.security_headers", "valid")]["value"] == 100
    expiring = found[("http.security_headers", "expiring")]
    assert expiring["severity"] == "warning"
    assert expiring["details"]["missing"] == ["content-security-policy"]
    assert found[("http.security_headers", "plain")]["severity"] == "critical"  # a 503 without any header
    # The site with a certificate for another host cannot be fetched: unknown, and the task fails.
    assert found[("http.security_headers", "wronghost")]["severity"] == "unknown"
    assert error is not None
    assert "wronghost" in error


def test_services_http_status_and_latency(http_targets, tmp_path):
    http_targets()
    found, _ = run_body(health.services_body, tmp_path)
    assert found[("services.status", "http:valid")]["severity"] == "ok"
    assert found[("services.status", "http:valid")]["details"]["status"] == 200
    assert found[("services.status", "http:plain")]["severity"] == "critical"
    assert "HTTP 503" in found[("services.status", "http:plain")]["message"]
    assert found[("services.status", "http:wronghost")]["severity"] == "critical"


def test_disk_threshold_crossed_by_configuration(write_config, tmp_path):
    write_config({"host": {"paths": ["/"]}, "thresholds": {"disk_percent": {"warning": 0.001, "critical": 0.002}}})
    found, _ = run_body(lambda step: health.host_body(step, "local"), tmp_path)
    disk = [f for (c, _), f in found.items() if c == "host.disk_usage"]
    assert disk
    assert disk[0]["severity"] == "critical"
    # The implicit host is the worker, named "local"; the Airflow logs folder is checked too.
    assert all(f["target"].startswith("local:") for f in disk)
    write_config({"host": {"paths": ["/"]}})
    found, _ = run_body(lambda step: health.host_body(step, "local"), tmp_path, "r2")
    assert all(f["severity"] in ("ok", "warning") for (c, _), f in found.items() if c == "host.disk_usage")


def test_failed_logins_from_real_postgres_log(pg, write_config, connections, tmp_path):
    for user in ("intruder", "postgres"):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(f"host=127.0.0.1 port={pg.port} user={user} password=wrong dbname=postgres",
                            connect_timeout=5)
    write_config({"targets": {"postgres": [{"name": "main", "log_file": str(pg.log_file)},
                                           {"name": "nolog"}], "redis": []},
                  "security": {"failed_logins": {"warning": 1, "critical": 100}}})
    found, error = run_body(health.failed_logins_body, tmp_path)
    assert error is None
    f = found[("security.failed_logins", "main")]
    assert f["value"] >= 2
    assert f["severity"] == "warning"
    assert f["details"]["by_user"].get("intruder", 0) >= 1
    assert pg.password not in json.dumps(list(found.values()))
    nolog = found[("security.failed_logins", "nolog")]
    assert (nolog["severity"], nolog["details"]) == ("ok", {"not_configured": True})
    assert "log_file is not set" in nolog["message"]


def test_ports_that_must_be_closed(write_config, tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    open_port = listener.getsockname()[1]
    closed_port = servers.free_port()
    try:
        write_config({"security": {"closed_ports": [f"127.0.0.1:{open_port}", f"127.0.0.1:{closed_port}"]}})
        found, _ = run_body(health.closed_ports_body, tmp_path)
    finally:
        listener.close()
    assert found[("security.open_ports", f"127.0.0.1:{open_port}")]["severity"] == "critical"
    assert found[("security.open_ports", f"127.0.0.1:{closed_port}")]["severity"] == "ok"


def test_aws_security_group_audit_against_moto(s3, write_config, connections, tmp_path):
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=s3.endpoint, region_name=s3.region,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    web = ec2.create_security_group(GroupName="web-ok", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    connections(s3.connection_env("maintenance_aws"))
    write_config({"security": {"aws_conn_id": "maintenance_aws"}})
    found, error = run_body(security_bodies.security_groups_body, tmp_path)
    assert error is None
    assert found[("security.aws_security_groups", f"aws:{s3.region}")]["severity"] == "ok"

    ssh = ec2.create_security_group(GroupName="ssh-open", Description="bad", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=ssh, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    found, _ = run_body(security_bodies.security_groups_body, tmp_path, "r2")
    f = found[("security.aws_security_groups", f"aws:{s3.region}")]
    assert f["severity"] == "critical"
    assert [(v["group_id"], v["ports"]) for v in f["details"]["open"]] == [(ssh, "22")]
    ec2.delete_security_group(GroupId=ssh)
    ec2.delete_security_group(GroupId=web)


def test_security_group_audit_skipped_without_account(write_config, tmp_path):
    write_config({})
    found, error = run_body(security_bodies.security_groups_body, tmp_path)
    assert error is None
    f = found[("security.aws_security_groups", "aws")]
    assert f["details"] == {"not_configured": True}
    assert "security.aws_conn_id is not set" in f["message"]


@pytest.mark.parametrize(("body", "check"), [
    (health.tls_body, "tls.certificate_expiry"),
    (health.headers_body, "http.security_headers"),
    (health.closed_ports_body, "security.open_ports"),
])
def test_checks_with_nothing_configured_say_so(write_config, tmp_path, body, check):
    write_config({"targets": {"http": []}, "security": {"closed_ports": []}})
    found, error = run_body(body, tmp_path)
    assert error is None
    assert [k for k in found if k[0] == check] == [(check, "all")]
    f = found[(check, "all")]
    assert f["severity"] == "ok"
    assert f["details"] == {"not_configured": True}
    assert f["message"].startswith("not configured: ")
