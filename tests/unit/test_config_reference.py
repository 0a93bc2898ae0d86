"""One source of defaults: docs/configuration.md is generated from the models, and the shipped
include/maintenance.yaml repeats the models' defaults (never a second, different value)."""

from __future__ import annotations

from pathlib import Path

import yaml

from mercenary_maintenance.config import MaintenanceConfig, load_config
from mercenary_maintenance.doctor.reference import COMMAND, render

ROOT = Path(__file__).resolve().parents[2]


def test_the_configuration_reference_is_current() -> None:
    written = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert written == render(), f"docs/configuration.md is stale: run `{COMMAND}`"


def test_the_shipped_yaml_values_equal_the_model_defaults() -> None:
    shipped = load_config(ROOT / "include" / "maintenance.yaml").model_dump(mode="json")
    defaults = MaintenanceConfig().model_dump(mode="json")
    differing = [key for key in defaults if shipped[key] != defaults[key]]
    assert not differing, f"include/maintenance.yaml disagrees with the models' defaults in: {differing}"


def test_the_shipped_yaml_names_the_switches_of_inert_plan_items() -> None:
    from mercenary_maintenance.switches import SWITCHES

    text = (ROOT / "include" / "maintenance.yaml").read_text(encoding="utf-8")
    yaml.safe_load(text)
    missing = sorted({s.key.split(".")[-1].removesuffix("[]") for s in SWITCHES}
                     - {w.strip(":#{ ") for line in text.splitlines() for w in line.replace(",", " ").split()})
    assert not missing, f"include/maintenance.yaml does not mention: {missing}"
