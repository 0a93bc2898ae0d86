"""``tls.certificate_expiry`` and ``tls.certificate_validity`` of the HTTPS targets.

Expiry: days left against ``thresholds.tls_days_left`` (below 30 warning — the plan's
"renew 30 days before" — and below 7 critical). Validity: the certificate must verify
against the trust store (or the target's ``ca_file``) for the target's host name; a
hostname mismatch or a broken/untrusted chain is critical. An expired certificate also
fails verification; its days left are still measured (negative) from the certificate
fetched without verification.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from mercenary_maintenance.adapters import tcp
from mercenary_maintenance.config import HttpTarget
from mercenary_maintenance.findings import Finding, Severity, Threshold, measured

EXPIRY = "tls.certificate_expiry"
VALIDITY = "tls.certificate_validity"


@dataclass(frozen=True)
class CertInfo:
    host: str
    not_after: datetime
    subject: str
    issuer: str
    verify_error: str | None = None
    verify_code: int | None = None


def certificate_findings(name: str, cert: CertInfo, now: datetime, threshold: Threshold) -> list[Finding]:
    days_left = round((cert.not_after - now).total_seconds() / 86400, 1)
    details = {"host": cert.host, "not_after": cert.not_after.isoformat(), "subject": cert.subject,
               "issuer": cert.issuer}
    state = "expired" if days_left < 0 else "expires"
    expiry = measured(EXPIRY, name, days_left, threshold,
                      f"certificate of {cert.host} {state} {cert.not_after:%Y-%m-%d} ({days_left} days left)", details)
    if cert.verify_error is None:
        validity = Finding(VALIDITY, name, Severity.OK, f"certificate of {cert.host} verifies (chain and host name)",
                           value="valid", threshold="valid", details=details)
    else:
        validity = Finding(VALIDITY, name, Severity.CRITICAL,
                           f"certificate of {cert.host} does not verify: {cert.verify_error}",
                           value="invalid", threshold="valid",
                           details={**details, "verify_code": cert.verify_code})
    return [expiry, validity]


def check_target(target: HttpTarget, threshold: Threshold) -> list[Finding]:
    cert = fetch_certificate(target.url, target.ca_file, target.timeout_seconds)
    return certificate_findings(target.name, cert, datetime.now(UTC), threshold)


def fetch_certificate(url: str, ca_file: str | None, timeout: float) -> CertInfo:
    from cryptography import x509

    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    verify_error: str | None = None
    verify_code: int | None = None
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    try:
        der = tcp.peer_certificate(host, port, context, timeout)
    except ssl.SSLCertVerificationError as exc:
        verify_error, verify_code = str(exc.verify_message or exc.reason), exc.verify_code
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE  # only to read the dates of a certificate that failed verification
        der = tcp.peer_certificate(host, port, insecure, timeout)
    cert = x509.load_der_x509_certificate(der)
    return CertInfo(host, cert.not_valid_after_utc, cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(),
                    verify_error, verify_code)
