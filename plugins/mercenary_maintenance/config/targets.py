"""What is maintained: PostgreSQL, Redis, HTTP endpoints, and the backend's hosts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from mercenary_maintenance.config.base import NamedTarget, StrictModel


class PostgresTarget(NamedTarget):
    conn_id: str = "maintenance_postgres"
    vacuum_full_tables: list[str] = Field(default_factory=list)
    """Tables for the opt-in VACUUM FULL (ACCESS EXCLUSIVE lock); schema-qualified or bare."""
    log_file: str | None = None
    primary: str | None = None
    """Where this server's primary is (a target name or host:port), named when the server turns out to be
    a standby (maintenance skipped, checks only); null: discovered from the WAL receiver where visible."""
    vacuum_full_free_bytes: int | None = Field(None, ge=0)
    """Free space to assume on the server's disk for VACUUM FULL's fit check when this worker cannot
    measure it (a remote server: SQL cannot see the disk). null: a VACUUM FULL of such a server is
    skipped with a warning naming this key. A server on this machine is measured (statvfs)."""


class RedisTarget(NamedTarget):
    conn_id: str = "maintenance_redis"


class HttpTarget(NamedTarget):
    url: str
    expect_status: int = 200
    timeout_seconds: float = 10.0
    ca_file: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not (value.startswith("http://") or value.startswith("https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class HostService(StrictModel):
    """A service that must run on a host (``services.status``, target ``<host>:<service>``)."""

    name: str
    process: str | None = None
    """A ``pgrep -f`` pattern matched against the host's command lines."""
    unit: str | None = None
    """A systemd unit (``systemctl is-active``), e.g. ``nginx.service``."""

    @model_validator(mode="after")
    def _one_probe(self) -> HostService:
        if (self.process is None) == (self.unit is None):
            raise ValueError(f"service {self.name!r}: give exactly one of process (a pgrep -f pattern) or unit")
        return self


LOCAL_HOST = "local"


class HostTarget(NamedTarget):
    """One of the backend's machines: the server lines of the plan run against it (docs/areas/hosts.md)."""

    transport: Literal["ssh", "local"] = "ssh"
    """``ssh`` through ``ssh_conn_id``; ``local`` is the worker itself (one machine, the demo)."""
    ssh_conn_id: str | None = None
    """Airflow SSH connection (apache-airflow-providers-ssh); its ``host_key`` extra pins the key."""
    paths: list[str] = Field(default_factory=lambda: ["/", "/var/log", "/tmp"])
    """Filesystems measured by host.disk_usage and host.inode_usage."""
    services: list[HostService] = Field(default_factory=list)
    """Processes or systemd units that must run there (services.status)."""
    config_files: list[str] = Field(default_factory=list)
    """Globs of configuration files backed up on change (config.backup)."""
    prometheus_instance: str | None = None
    """node_exporter's ``instance`` label for this host (alert_evaluation with Prometheus)."""
    allow_unknown_host_key: bool = False
    """Accept a connection with host-key checking off (man-in-the-middle possible; the doctor flags it)."""
    implicit: bool = False
    """Set only on the host made up when targets.hosts is empty (the worker, named ``local``)."""

    @model_validator(mode="after")
    def _ssh_needs_conn(self) -> HostTarget:
        if self.transport == "ssh" and not self.ssh_conn_id:
            raise ValueError(f"host {self.name!r}: transport ssh needs ssh_conn_id (an Airflow SSH connection)")
        return self


class Targets(StrictModel):
    postgres: list[PostgresTarget] = Field(default_factory=lambda: [PostgresTarget(name="main")])
    redis: list[RedisTarget] = Field(default_factory=lambda: [RedisTarget(name="cache")])
    http: list[HttpTarget] = Field(default_factory=list)
    hosts: list[HostTarget] = Field(default_factory=list)
    """The backend's machines; empty: one implicit host named ``local`` (the worker), reported as such."""

    @model_validator(mode="after")
    def _unique(self) -> Targets:
        for kind in ("postgres", "redis", "http", "hosts"):
            names = [t.name for t in getattr(self, kind)]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate {kind} target names: {dupes}")
        return self
