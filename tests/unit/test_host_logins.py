"""security.failed_logins per host when no login source can be read: the implicit worker host says
it is not configured; a backend host's check could not run (it raises, the task says so)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mercenary_maintenance.adapters.host_commands import Result
from mercenary_maintenance.config import HostTarget, parse_config
from mercenary_maintenance.health import host_logins


class NoLoginSources:
    """A host with no journal and no readable auth log."""

    def __init__(self, host: HostTarget) -> None:
        self.host = host

    def run(self, name: str, *args: str, check: bool = True) -> Any:
        return Result(1, "", "No journal files were found.")

    def lstat(self, path: str) -> Any:
        raise FileNotFoundError(path)

    def open(self, path: str) -> Any:
        raise FileNotFoundError(path)


NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)


def test_the_implicit_worker_host_without_login_sources_is_not_configured() -> None:
    cfg = parse_config({})
    [local] = cfg.hosts()
    finding, state = host_logins.check_host(NoLoginSources(local), cfg.security, None, NOW)
    assert finding.severity.label == "ok", finding
    assert finding.details == {"not_configured": True}
    assert "targets.hosts" in finding.message
    assert state == {}


def test_a_backend_host_without_login_sources_could_not_run() -> None:
    cfg = parse_config({"targets": {"hosts": [{"name": "app1", "ssh_conn_id": "ssh_app1"}]}})
    [app1] = cfg.hosts()
    with pytest.raises(FileNotFoundError, match=r"none of security\.auth_logs .* is readable on app1"):
        host_logins.check_host(NoLoginSources(app1), cfg.security, None, NOW)
