"""Host checks whose source cannot be read (no journal or auth log; neither nft nor iptables-save):
on the implicit host ``local`` (the Airflow worker) that is not configured, never a failed run; on a
backend host the check could not run (it raises, the task says so)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mercenary_maintenance.adapters.host_commands import Result
from mercenary_maintenance.config import HostTarget, parse_config
from mercenary_maintenance.health import host_logins
from mercenary_maintenance.security import bodies as security_bodies
from mercenary_maintenance.steps import RunInfo, Step


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


def _firewall_step(tmp_path: Path, hosts: list[dict[str, Any]]) -> Step:
    cfg = parse_config({"targets": {"hosts": hosts}, "reports": {"url": f"file://{tmp_path}"}})
    run = RunInfo(dag_id="maintenance_monthly", run_id="r", task_id="security.review_host_firewall")
    return Step(cfg, run, host_transports=lambda c, name: NoLoginSources(c.host_target(name)))


def test_the_implicit_worker_host_without_a_firewall_tool_is_not_configured(tmp_path: Path) -> None:
    step = _firewall_step(tmp_path, [])
    security_bodies.host_firewall_body(step, "local")
    [finding] = step.findings
    assert finding.severity.label == "ok", finding
    assert finding.details == {"not_configured": True}
    assert "neither `nft list ruleset`" in finding.message
    assert not step.errors


def test_a_backend_host_whose_ruleset_cannot_be_read_could_not_run(tmp_path: Path) -> None:
    step = _firewall_step(tmp_path, [{"name": "app1", "ssh_conn_id": "ssh_app1"}])
    security_bodies.host_firewall_body(step, "app1")
    assert step.errors, step.findings
