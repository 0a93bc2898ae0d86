"""Typed configuration of the maintenance plan, read at task run time.

The file is the one named by ``$MAINTENANCE_CONFIG``, else the shipped ``include/maintenance.yaml``.
Defaults equal the plan's values, so an empty file is a valid plan. Unknown keys are
errors (a typo must not silently fall back to a default), and every error names the
dotted key that is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import Field, ValidationError, model_validator

from mercenary_maintenance import packaged
from mercenary_maintenance.config.alerts import (
    ALERT_METRICS,
    AlertRoute,
    AlertsConfig,
)
from mercenary_maintenance.config.backups import (
    BackupsConfig,
    ConfigFilesBackup,
    FullBackupConfig,
    IncrementalBackupConfig,
    RereadConfig,
    UploadsConfig,
)
from mercenary_maintenance.config.base import (
    CONFIG_ENV,
    TARGET_NAME,
    ConfigError,
    NamedTarget,
    StrictModel,
)
from mercenary_maintenance.config.logs import (
    AUDIT_MIN_RETENTION_DAYS,
    CleanupConfig,
    ErrorScanSet,
    HostConfig,
    LogsConfig,
    LogSet,
)
from mercenary_maintenance.config.operations import (
    AIRFLOW_DB_TABLES,
    AirflowDbConfig,
    ApprovalKind,
    ApprovalsConfig,
    ConsoleConfig,
    EmergencyConfig,
    FreezePeriod,
    GuardsConfig,
    IncidentLevelName,
    PreviewConfig,
    ReportsConfig,
    WindowsConfig,
    default_reports_url,
)
from mercenary_maintenance.config.security import (
    DependencyManifest,
    SecurityConfig,
    SlaSeverity,
)
from mercenary_maintenance.config.services import (
    PostgresConfig,
    PostgresLoadGuard,
    RedisConfig,
    RedisLoadGuard,
)
from mercenary_maintenance.config.targets import (
    LOCAL_HOST,
    HostService,
    HostTarget,
    HttpTarget,
    PostgresTarget,
    RedisTarget,
    Targets,
)
from mercenary_maintenance.config.thresholds import (
    ThresholdModel,
    Thresholds,
    limits,
)
from mercenary_maintenance.config.timeouts import (
    HttpTimeouts,
    PostgresTimeouts,
    RedisTimeouts,
    S3Timeouts,
    SshTimeouts,
    SubprocessTimeouts,
    TimeoutsConfig,
)

__all__ = [
    "AIRFLOW_DB_TABLES",
    "ALERT_METRICS",
    "AUDIT_MIN_RETENTION_DAYS",
    "CONFIG_ENV",
    "LOCAL_HOST",
    "TARGET_NAME",
    "AirflowDbConfig",
    "AlertRoute",
    "AlertsConfig",
    "ApprovalKind",
    "ApprovalsConfig",
    "BackupsConfig",
    "CleanupConfig",
    "ConfigError",
    "ConfigFilesBackup",
    "ConsoleConfig",
    "DependencyManifest",
    "EmergencyConfig",
    "ErrorScanSet",
    "FreezePeriod",
    "FullBackupConfig",
    "GuardsConfig",
    "HostConfig",
    "HostService",
    "HostTarget",
    "HttpTarget",
    "HttpTimeouts",
    "IncidentLevelName",
    "IncrementalBackupConfig",
    "LogSet",
    "LogsConfig",
    "MaintenanceConfig",
    "NamedTarget",
    "PostgresConfig",
    "PostgresLoadGuard",
    "PostgresTarget",
    "PostgresTimeouts",
    "PreviewConfig",
    "RedisConfig",
    "RedisLoadGuard",
    "RedisTarget",
    "RedisTimeouts",
    "ReportsConfig",
    "RereadConfig",
    "S3Timeouts",
    "SecurityConfig",
    "SlaSeverity",
    "SshTimeouts",
    "StrictModel",
    "SubprocessTimeouts",
    "Targets",
    "ThresholdModel",
    "Thresholds",
    "TimeoutsConfig",
    "UploadsConfig",
    "WindowsConfig",
    "config_path",
    "default_reports_url",
    "limits",
    "load_config",
    "parse_config",
]


class MaintenanceConfig(StrictModel):
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    targets: Targets = Field(default_factory=Targets)
    backups: BackupsConfig = Field(default_factory=BackupsConfig)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    postgres: PostgresConfig = Field(default_factory=PostgresConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    cleanup: CleanupConfig = Field(default_factory=CleanupConfig)
    host: HostConfig = Field(default_factory=HostConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    emergency: EmergencyConfig = Field(default_factory=EmergencyConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    preview: PreviewConfig = Field(default_factory=PreviewConfig)
    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig)
    guards: GuardsConfig = Field(default_factory=GuardsConfig)
    airflow_db: AirflowDbConfig = Field(default_factory=AirflowDbConfig)

    def postgres_target(self, name: str) -> PostgresTarget:
        return _pick(self.targets.postgres, name, "targets.postgres")

    def redis_target(self, name: str) -> RedisTarget:
        return _pick(self.targets.redis, name, "targets.redis")

    def hosts(self) -> list[HostTarget]:
        """targets.hosts, or the one implicit host ``local`` (the worker) when none is configured."""
        if self.targets.hosts:
            return list(self.targets.hosts)
        return [HostTarget(name=LOCAL_HOST, transport="local", paths=list(self.host.paths), implicit=True)]

    def host_target(self, name: str) -> HostTarget:
        return _pick(self.hosts(), name, "targets.hosts")

    def hosts_for(self, names: list[str] | None) -> list[HostTarget]:
        """The hosts a log set / cleanup applies to (``hosts: null`` = every host)."""
        return [h for h in self.hosts() if names is None or h.name in names]

    @model_validator(mode="after")
    def _known_hosts(self) -> MaintenanceConfig:
        known = {h.name for h in self.hosts()}
        named = [(f"logs.sets[{s.name}].hosts", s.hosts) for s in self.logs.sets]
        named += [(f"logs.error_scan[{s.name}].hosts", s.hosts) for s in self.logs.error_scan]
        named.append(("cleanup.hosts", self.cleanup.hosts))
        for key, hosts in named:
            unknown = sorted(set(hosts or []) - known)
            if unknown:
                raise ValueError(f"{key}: unknown host(s) {unknown}; targets.hosts has {sorted(known)}")
        return self


_T = TypeVar("_T", bound=NamedTarget)


def _pick(items: list[_T], name: str, key: str) -> _T:
    for item in items:
        if item.name == name:
            return item
    raise ConfigError(f"{key}: no target named {name!r} (configured: {[i.name for i in items]})")


def config_path() -> Path | None:
    """The file named by ``$MAINTENANCE_CONFIG``; None means the shipped default."""
    named = os.environ.get(CONFIG_ENV)
    return Path(named) if named else None


def parse_config(data: Any, source: str = "<config>") -> MaintenanceConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return MaintenanceConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "<root>"
            problems.append(f"{key}: {err['msg']}")
        raise ConfigError(f"{source}: invalid maintenance config: " + "; ".join(problems)) from None


def load_config(path: str | Path | None = None) -> MaintenanceConfig:
    """Read and validate the config file. Call at task run time, never at parse time."""
    file = Path(path) if path else config_path()
    if file is None:

        return _parse_text(packaged.default_config_text(), "maintenance.yaml (shipped default)")
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read maintenance config ({exc.strerror})") from None
    return _parse_text(text, str(file))


def _parse_text(text: str, source: str) -> MaintenanceConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    return parse_config(data, source)
