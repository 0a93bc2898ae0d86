"""deploy/prometheus/rules.yml: valid, unit-tested with promtool (firing and not-firing cases), over
metrics the console really exports; the Grafana dashboard queries the same metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "mercenary-maintenance.json"
EXPORTED = set(re.findall(r'GaugeMetricFamily\(\s*"(mercenary_[a-z_]+)"',
                          (ROOT / "plugins" / "mercenary_maintenance" / "console" / "metrics.py").read_text()))


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool missing: apt-get install prometheus (make system-deps)")
    return path


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    done = subprocess.run([promtool(), "test", "rules", "rules_test.yml"], cwd=Path(__file__).parent,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_rules_use_only_exported_metrics() -> None:
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    used = set(re.findall(r"mercenary_[a-z_]+", RULES.read_text()))
    assert used, "no metric used"
    assert used <= EXPORTED, f"not exported by /maintenance/metrics: {sorted(used - EXPORTED)}"


def test_the_dashboard_queries_only_exported_metrics() -> None:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    used = {m for e in exprs for m in re.findall(r"mercenary_[a-z_]+", e)}
    assert used == EXPORTED, f"dashboard vs exported: {sorted(used ^ EXPORTED)}"
