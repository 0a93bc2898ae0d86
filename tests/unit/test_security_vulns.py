"""Vulnerability scan: real OSV records (tests/data/osv) against pinned manifests, patch SLAs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mercenary_maintenance.config import parse_config
from mercenary_maintenance.report.state import StateKeeper
from mercenary_maintenance.report.store import open_store
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.security import osv
from mercenary_maintenance.security.bodies import vulnerabilities_body
from mercenary_maintenance.security.manifests import read_manifest
from mercenary_maintenance.security.scan import STATE_NAME
from mercenary_maintenance.security.vulns import SlaPolicy, patch_sla_finding
from mercenary_maintenance.steps import Step

DATA = Path(__file__).resolve().parents[1] / "data"
T0 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)  # a Tuesday: the next monthly window is Sun 2026-12-06 01:00


@pytest.fixture(scope="module")
def db() -> osv.Advisories:
    return osv.load(f"file://{DATA / 'osv'}")


def scan(db: osv.Advisories, name: str) -> dict[str, list[osv.Match]]:
    kind = "node" if name.startswith("package-lock") else "python"
    manifest = read_manifest(str(DATA / "manifests" / name), kind)
    out: dict[str, list[osv.Match]] = {}
    for p in manifest.packages:
        out.setdefault(p.name, []).extend(db.match(p.ecosystem, p.name, p.version))
    return out


def ids(matches: list[osv.Match]) -> list[tuple[str, str | None]]:
    return [(m.id, m.fixed) for m in matches]


def test_all_records_load(db: osv.Advisories) -> None:
    assert db.records == 8
    assert db.problems == []


def test_requirements_pinning_affected_versions(db: osv.Advisories) -> None:
    found = scan(db, "requirements.txt")
    assert ids(found["Django"]) == [("GHSA-xpfp-f569-q3p2", "3.2.5")]  # second of two introduced/fixed pairs
    assert ids(found["requests"]) == [("GHSA-j8r2-6x86-q33q", "2.31.0"), ("GHSA-x84v-xcm2-53pg", "2.20.0")]
    assert ids(found["Jinja2"]) == [("GHSA-h5c8-rqwp-cp95", "3.1.3")]  # name normalized: jinja2
    assert ids(found["py"]) == [("GHSA-w596-4wvx-j9j6", None)]  # last_affected 1.11.0, inclusive, no fix
    assert found["flask"] == []
    [django] = found["Django"]
    assert (django.severity, django.score, django.aliases) == ("critical", 9.8, ("CVE-2021-35042",))
    assert [m.severity for m in found["requests"]] == ["medium", "high"]


def test_unaffected_versions_have_no_findings(db: osv.Advisories) -> None:
    found = scan(db, "requirements-fixed.txt")
    assert {name: ids(m) for name, m in found.items() if m} == {}
    assert "django-extensions" in found  # a different package whose name starts like an affected one


def test_the_gap_between_two_ranges_and_the_fixed_boundary(db: osv.Advisories) -> None:
    django = "GHSA-xpfp-f569-q3p2"
    assert [v for v in ("3.0.14", "3.1", "3.1.12", "3.1.13", "3.2", "3.2.4", "3.2.5", "4.0")
            if any(m.id == django for m in db.match("PyPI", "django", v))] == ["3.1", "3.1.12", "3.2", "3.2.4"]
    assert [m.fixed for m in db.match("PyPI", "Django", "3.1.5")] == ["3.1.13"]
    assert db.match("PyPI", "py", "1.11.1") == []
    assert db.match("PyPI", "py", "1.4.0")[0].id == "GHSA-w596-4wvx-j9j6"


def test_package_lock_v3_with_nested_installs(db: osv.Advisories) -> None:
    manifest = read_manifest(str(DATA / "manifests" / "package-lock.json"), "node")
    pins = sorted((p.name, p.version) for p in manifest.packages)
    assert pins == [("left-pad", "1.3.0"), ("lodash", "4.17.11"), ("minimist", "0.0.8"), ("minimist", "0.2.4"),
                    ("minimist", "1.2.5"), ("mkdirp", "0.5.1")]
    hits = {(p.name, p.version): ids(db.match("npm", p.name, p.version)) for p in manifest.packages}
    assert hits[("lodash", "4.17.11")] == [("GHSA-35jh-r3h4-6jhm", "4.17.21"), ("GHSA-jf85-cpcp-j695", "4.17.12")]
    assert hits[("minimist", "0.0.8")] == [("GHSA-xvch-5gv4-984h", "0.2.4")]
    assert hits[("minimist", "0.2.4")] == []  # the first range's fix, below the second range
    assert hits[("minimist", "1.2.5")] == [("GHSA-xvch-5gv4-984h", "1.2.6")]
    assert hits[("left-pad", "1.3.0")] == []


def test_package_lock_v1(db: osv.Advisories) -> None:
    found = scan(db, "package-lock-v1.json")
    assert set(found) == {"lodash", "mkdirp", "minimist"}
    assert all(m == [] for m in found.values())


def sla_of(db: osv.Advisories, package: str, version: str, ecosystem: str, hours: float) -> list[str]:
    matches = db.match(ecosystem, package, version)
    first_seen = {f"m|{ecosystem}|{package.lower()}|{m.id}": T0.isoformat() for m in matches}
    policy = SlaPolicy({"critical": 24, "high": 168})
    finding = patch_sla_finding("m", matches, first_seen, T0 + timedelta(hours=hours), policy)
    return [f"{i['id']}:{i['sla']}" for i in sorted(finding.details["items"], key=lambda i: i["id"])]


@pytest.mark.parametrize(("hours", "expected"), [(11.9, "ok"), (12, "warning"), (24, "warning"), (24.5, "critical")])
def test_critical_sla_24_hours(db: osv.Advisories, hours: float, expected: str) -> None:
    assert sla_of(db, "minimist", "1.2.5", "npm", hours) == [f"GHSA-xvch-5gv4-984h:{expected}"]


@pytest.mark.parametrize(("hours", "expected"), [(83, "ok"), (84, "warning"), (168, "warning"), (169, "critical")])
def test_high_sla_7_days(db: osv.Advisories, hours: float, expected: str) -> None:
    assert sla_of(db, "requests", "2.0.0", "PyPI", hours) == [f"GHSA-x84v-xcm2-53pg:{expected}"]


def test_medium_is_due_at_the_next_monthly_window(db: osv.Advisories) -> None:
    # First seen Tue 2026-11-10 12:00; the next monthly window starts Sun 2026-12-06 01:00 (613 h later).
    assert sla_of(db, "jinja2", "3.1.2", "PyPI", 306) == ["GHSA-h5c8-rqwp-cp95:ok"]
    assert sla_of(db, "jinja2", "3.1.2", "PyPI", 307) == ["GHSA-h5c8-rqwp-cp95:warning"]
    assert sla_of(db, "jinja2", "3.1.2", "PyPI", 614) == ["GHSA-h5c8-rqwp-cp95:critical"]


# ------------------------------------------------------------------ the task body, with state beside the reports


def make_step(tmp_path: Path, security: dict[str, Any]) -> Step:
    cfg = parse_config({"reports": {"url": f"file://{tmp_path}/reports"}, "security": security})
    return Step(cfg, RunInfo(dag_id="maintenance_weekly", run_id="manual__t"))


def by_check(step: Step) -> dict[tuple[str, str], Any]:
    return {(f.check, f.target): f for f in step.findings}


def test_scan_ages_vulnerabilities_from_the_first_sighting_across_runs(tmp_path: Path) -> None:
    security = {"advisories": f"file://{DATA / 'osv'}", "dependency_manifests": [
        {"name": "api", "path": str(DATA / "manifests" / "requirements.txt")},
        {"name": "web", "path": str(DATA / "manifests" / "package-lock.json"), "kind": "node"}]}
    state = StateKeeper(open_store(f"file://{tmp_path}/reports"), STATE_NAME)
    # Seeded: the lodash command injection (high) was first seen 100 h before this run.
    state.save({"first_seen": {"web|npm|lodash|GHSA-35jh-r3h4-6jhm": (T0 - timedelta(hours=100)).isoformat()}},
               T0 - timedelta(hours=100))
    step = make_step(tmp_path, security)
    vulnerabilities_body(step, now=T0, state=state)
    found = by_check(step)
    web = found[("security.vulnerabilities", "web")]
    assert web.severity.label == "critical"
    assert web.value == 4
    assert web.details["counts"] == {"critical": 3, "high": 1, "medium": 0, "low": 0, "unknown": 0}
    assert "lodash 4.17.11 → 4.17.12" in web.message
    assert "minimist 1.2.5 → 1.2.6" in web.message
    api = found[("security.vulnerabilities", "api")]
    assert api.value == 5
    assert api.details["unpinned"] == ["celery>=5"]
    sla = {i["id"]: i for i in found[("security.patch_sla", "web")].details["items"]}
    assert sla["GHSA-35jh-r3h4-6jhm"]["sla"] == "warning"  # 100 h of 168
    assert sla["GHSA-35jh-r3h4-6jhm"]["age_hours"] == 100
    assert sla["GHSA-jf85-cpcp-j695"]["sla"] == "ok"  # first seen now
    assert found[("security.patch_sla", "web")].severity.label == "warning"

    # 25 hours later nothing was upgraded: the criticals are past their 24 h; the high one past 7 days.
    later = make_step(tmp_path, security)
    vulnerabilities_body(later, now=T0 + timedelta(hours=25), state=state)
    sla2 = {i["id"]: i for i in by_check(later)[("security.patch_sla", "web")].details["items"]}
    assert sla2["GHSA-jf85-cpcp-j695"]["sla"] == "critical"
    assert sla2["GHSA-35jh-r3h4-6jhm"]["sla"] == "warning"  # 125 h: still under 168
    assert by_check(later)[("security.patch_sla", "web")].severity.label == "critical"
    assert len(state.versions()) == 3


def test_no_advisory_source_is_unknown_never_ok(tmp_path: Path) -> None:
    manifests = [{"name": "api", "path": str(DATA / "manifests" / "requirements.txt")}]
    step = make_step(tmp_path, {"dependency_manifests": manifests})
    vulnerabilities_body(step, now=T0)
    assert {(f.check, f.severity.label) for f in step.findings} == {
        ("security.vulnerabilities", "unknown"), ("security.patch_sla", "unknown")}
    assert "not 'none found'" in step.findings[0].message or "cannot be known" in step.findings[0].message
    empty = tmp_path / "empty"
    empty.mkdir()
    step = make_step(tmp_path, {"dependency_manifests": manifests, "advisories": f"file://{empty}"})
    vulnerabilities_body(step, now=T0)
    assert all(f.severity.label == "unknown" and "no OSV record" in f.message for f in step.findings)
    step = make_step(tmp_path, {"dependency_manifests": manifests, "advisories": f"file://{tmp_path}/missing"})
    vulnerabilities_body(step, now=T0)
    assert all(f.severity.label == "unknown" and "unreadable" in f.message for f in step.findings)


def test_nothing_configured_says_so(tmp_path: Path) -> None:
    step = make_step(tmp_path, {})
    vulnerabilities_body(step, now=T0)
    [finding] = step.findings
    assert finding.severity.label == "ok"
    assert finding.details["not_configured"] is True


def test_pending_debian_security_upgrades_through_the_runner(tmp_path: Path) -> None:
    import subprocess

    seen: list[list[str]] = []

    def apt(args: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        seen.append(list(args))
        out = ("Inst libssl3 [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])\n"
               "Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/stable [all])\n")
        return subprocess.CompletedProcess(args, 0, out, "")

    step = make_step(tmp_path, {"scan_os_packages": True})
    vulnerabilities_body(step, now=T0, runner=apt)
    assert seen
    assert seen[0][:3] == ["apt-get", "-s", "-o"]
    vulns = next(f for f in step.findings if f.check == "security.vulnerabilities")
    assert vulns.target.startswith("host:")
    assert vulns.value == 1
    assert vulns.details["upgrade_to"] == ["libssl3 3.0.11-1~deb12u1 → 3.0.11-1~deb12u2"]
