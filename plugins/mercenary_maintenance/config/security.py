"""Security checks: logins, TLS, dependencies, access keys, vulnerability SLAs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mercenary_maintenance.config.base import NamedTarget, StrictModel
from mercenary_maintenance.config.thresholds import ThresholdModel, limits

SlaSeverity = Literal["critical", "high", "medium", "low", "unknown"]


def _default_sla() -> dict[SlaSeverity, float]:
    return {"critical": 24.0, "high": 168.0}


class DependencyManifest(NamedTarget):
    path: str
    kind: Literal["python", "node"] = "python"


class SecurityConfig(StrictModel):
    closed_ports: list[str] = Field(default_factory=list)
    failed_logins: ThresholdModel = limits(10, 100)
    failed_logins_hours: float = Field(24, gt=0)
    log_tail_bytes: int = Field(64 * 2**20, ge=4096)
    port_timeout_seconds: float = Field(2, gt=0)
    aws_conn_id: str | None = None
    web_ports: list[int] = Field(default_factory=lambda: [80, 443])
    dependency_manifests: list[DependencyManifest] = Field(default_factory=list)
    """Vulnerabilities (weekly): manifests matched against OSV records from `advisories`."""
    advisories: str | None = None
    scan_os_packages: bool = False
    patch_sla_hours: dict[SlaSeverity, float] = Field(default_factory=_default_sla)
    """Severities without an entry are due at the start of the next monthly window."""
    credential_max_age_days: int = Field(90, ge=1)
    host_logins: bool = True
    """security.failed_logins also counts failed SSH logins in each host's journal / auth.log."""
    auth_logs: list[str] = Field(default_factory=lambda: ["/var/log/auth.log"])
    """Where sshd logs on a host without a readable journal (the first readable file is used)."""
    apt_lists_max_age_hours: float = Field(48, gt=0)
    """security.pending_updates: package lists older than this are stale (a warning, never ok)."""
    firewall_hosts: bool = True
    """security.firewall_changes also snapshots each host's nftables / iptables ruleset."""
    package_cache_warning_mb: float = Field(1024, ge=0)
    """host.package_cache: the apt cache above this size is a warning."""
    package_cache_clean: bool = False
    """Opt-in action host.package_cache_clean (``apt-get clean`` on the host)."""

    @field_validator("advisories")
    @classmethod
    def _advisory_url(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("file://") or value.startswith("s3://")):
            raise ValueError("must start with file:// or s3:// (a directory or prefix of OSV JSON records)")
        return value
