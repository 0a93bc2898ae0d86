"""Run the doctests of every package module that has some (pure parsers and evaluators)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import mercenary_maintenance

PACKAGE_DIR = Path(mercenary_maintenance.__file__).parent
MODULES = sorted(
    ".".join(("mercenary_maintenance", *path.relative_to(PACKAGE_DIR).with_suffix("").parts)).removesuffix(".__init__")
    for path in PACKAGE_DIR.rglob("*.py")
    if ">>> " in path.read_text()
)


def test_some_modules_have_doctests() -> None:
    assert "mercenary_maintenance.findings" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
