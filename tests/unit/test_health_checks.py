"""Pure health/security checks: headers score, certificate findings, login counting, SG audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mercenary_maintenance.adapters import tcp
from mercenary_maintenance.findings import Severity, Threshold
from mercenary_maintenance.health import headers, security, services, tls
from mercenary_maintenance.security import groups as groups_audit

# The plan's "Security Headers" section, verbatim (also used by the integration tests).
GOOD = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-XSS-Protection": "1; mode=block",
    "Content-Security-Policy": "default-src 'self'",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "geolocation=(), microphone=(), camera=()",
}
SCORE = Threshold(100, 50, "below")


def test_plan_headers_score_100_and_ok():
    finding = headers.headers_finding("api", "https://x", GOOD, SCORE)
    assert finding.severity is Severity.OK
    assert finding.value == 100
    assert finding.details["grade"] == "A+"


def test_missing_and_wrong_headers_are_listed_and_scored():
    bad = {**GOOD, "Strict-Transport-Security": "max-age=600"}
    del bad["Content-Security-Policy"]
    finding = headers.headers_finding("api", "https://x", bad, SCORE)
    assert finding.value == 100 - 25 - 10
    assert finding.severity is Severity.WARNING
    assert finding.details["missing"] == ["content-security-policy"]
    assert set(finding.details["wrong"]) == {"strict-transport-security"}
    assert "missing content-security-policy" in finding.message


def test_no_headers_is_critical():
    finding = headers.headers_finding("api", "https://x", {}, SCORE)
    assert finding.severity is Severity.CRITICAL
    assert finding.details["grade"] == "F"


def test_csp_frame_ancestors_replaces_x_frame_options():
    h = {k: v for k, v in GOOD.items() if k != "X-Frame-Options"}
    h["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
    assert headers.assess(h).score == 100


@pytest.mark.parametrize(("name", "value"), [
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Content-Type-Options", "sniff"),
    ("Content-Security-Policy", "default-src 'self' 'unsafe-inline'"),
    ("Referrer-Policy", "unsafe-url"),
    ("X-XSS-Protection", "1"),
    ("X-Frame-Options", "SAMEORIGIN"),
])
def test_unacceptable_values(name, value):
    assert name.lower() in headers.assess({**GOOD, name: value}).wrong


NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAYS = Threshold(30, 7, "below")


def cert(days: float, error: str | None = None) -> tls.CertInfo:
    return tls.CertInfo("h", NOW + timedelta(days=days), "CN=h", "CN=ca", error, 62 if error else None)


@pytest.mark.parametrize(("days", "severity"), [(90, Severity.OK), (10, Severity.WARNING), (3, Severity.CRITICAL),
                                               (-1, Severity.CRITICAL)])
def test_certificate_expiry(days, severity):
    expiry, validity = tls.certificate_findings("api", cert(days), NOW, DAYS)
    assert expiry.check == "tls.certificate_expiry"
    assert expiry.severity is severity
    assert expiry.value == days
    assert validity.severity is Severity.OK


def test_certificate_verification_error_is_critical():
    _, validity = tls.certificate_findings("api", cert(90, "Hostname mismatch"), NOW, DAYS)
    assert validity.check == "tls.certificate_validity"
    assert validity.severity is Severity.CRITICAL
    assert "Hostname mismatch" in validity.message


LOG = [
    '2026-06-01 10:00:00.123 UTC [11] FATAL:  password authentication failed for user "bob"',
    '2026-06-01 10:00:00.123 UTC [11] DETAIL:  Connection matched pg_hba.conf line 5',
    '2026-06-01 11:00:00.000 UTC [12] FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "eve", database "x"',
    '2026-06-01 12:00:00 UTC [13] FATAL:  role "mallory" does not exist',
    '2026-05-01 12:00:00 UTC [14] FATAL:  password authentication failed for user "old"',
    '2026-06-01 12:00:00 UTC [15] LOG:  checkpoint complete',
    'FATAL:  password authentication failed for user "undated"',
]


def test_failed_logins_counted_in_lookback():
    result = security.count_failed_logins(LOG, NOW - timedelta(days=1))
    assert result.count == 4
    assert result.undated == 1
    assert dict(result.by_user) == {"bob": 1, "eve": 1, "mallory": 1, "undated": 1}
    finding = security.failed_logins_finding("main", "/x.log", result, 24, Threshold(3, 100))
    assert finding.severity is Severity.WARNING
    assert finding.value == 4


def test_open_ingress_flags_non_web_ports_and_all_traffic():
    groups = [{"GroupId": "sg-1", "GroupName": "web", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
    ]}, {"GroupId": "sg-2", "GroupName": "bad", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ]}]
    found = groups_audit.open_ingress(groups, [80, 443])
    assert [(v["group_id"], v["ports"]) for v in found] == [("sg-2", "22"), ("sg-2", "all"), ("sg-2", "80-443")]
    assert groups_audit.security_groups_finding("aws:x", 2, found).severity is Severity.CRITICAL
    assert groups_audit.security_groups_finding("aws:x", 2, []).severity is Severity.OK


def test_closed_port_spec_parsing():
    assert tcp.parse_host_port("[::1]:5432") == ("::1", 5432)
    with pytest.raises(ValueError, match="host:port"):
        tcp.parse_host_port("nohost")


def test_http_status_and_latency():
    lat = Threshold(1, 2)
    assert services.http_result("api", "u", 200, 200, 0.1, None, lat).severity is Severity.OK
    assert services.http_result("api", "u", 200, 200, 1.5, None, lat).severity is Severity.WARNING
    assert services.http_result("api", "u", 503, 200, 0.1, None, lat).severity is Severity.CRITICAL
    down = services.http_result("api", "u", None, 200, None, "ConnectionRefusedError: x", lat)
    assert down.severity is Severity.CRITICAL
    assert "ConnectionRefusedError" in down.message
