"""The product as a user installs it: a wheel, installed non-editable into a fresh venv with
Airflow, parses every DAG of ``dags/`` and loads every SQL file and the default config
through the package's one loader (no path into the source tree)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, os, sys
import mercenary_maintenance
from mercenary_maintenance import packaged
from mercenary_maintenance.config import load_config
from mercenary_maintenance.pg import sql as pgsql
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
loaded = {}
for area in packaged.sql_areas():
    for name in packaged.sql_names(area):
        text = pgsql.text(name, 130000) if area == "postgres" else packaged.sql_text(area, name)
        assert text.strip(), (area, name)
        loaded.setdefault(area, []).append(name)
cfg = load_config()
print(json.dumps({
    "package": mercenary_maintenance.__file__,
    "include": str(packaged.include_root() / "maintenance.yaml"),
    "dag_ids": sorted(bag.dag_ids),
    "errors": {k: str(v)[:500] for k, v in bag.import_errors.items()},
    "sql": loaded,
    "config_targets": [t.name for t in cfg.targets.postgres],
}))
"""


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        pytest.fail("uv is missing from the venv (make install puts it there)")
    return found


def test_wheel_installs_and_parses_every_dag_without_the_source_tree(tmp_path: Path) -> None:
    uv = _uv()
    wheels = tmp_path / "wheels"
    # Build from a copy of what the wheel is made of: setuptools writes build/ beside the sources.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("plugins", "include"):
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([uv, "build", "-q", "--wheel", "--out-dir", str(wheels), str(source)], check=True, timeout=300,
                   cwd=tmp_path)
    (wheel,) = wheels.glob("mercenary_maintenance-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    harness = [n for n in names if n.startswith(("mercenary_dev/", "mercenary_maintenance/servers",
                                                 "mercenary_maintenance/demo/"))]
    assert harness == [], "the dev harness must not ship in the product wheel"
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # Runtime dependencies only (no dev extra): the product must not need the dev harness.
    subprocess.run([uv, "pip", "install", "-q", "--python", str(python), str(wheel)], check=True, timeout=600)

    home = tmp_path / "airflow"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "AIRFLOW_HOME": str(home),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
           "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"), "AIRFLOW__CORE__PLUGINS_FOLDER": str(tmp_path / "none")}
    probe = subprocess.run([str(python), "-c", PROBE, str(ROOT / "dags")], env=env, cwd=tmp_path, timeout=300,
                           capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr[-3000:]
    out = json.loads(probe.stdout.strip().splitlines()[-1])

    site = str(venv)
    assert out["package"].startswith(site), out["package"]  # the installed copy, not plugins/
    assert out["include"].startswith(site), out["include"]
    assert out["errors"] == {}
    assert out["dag_ids"] == sorted(p.stem for p in (ROOT / "dags").glob("*.py"))
    shipped = {area: sorted(p.stem for p in (ROOT / "include" / "sql" / area).glob("*.sql"))
               for area in sorted(p.name for p in (ROOT / "include" / "sql").iterdir() if p.is_dir())}
    assert out["sql"] == shipped
    assert out["config_targets"] == ["main"]


def test_shipped_files_are_read_only_through_the_loader() -> None:
    package = ROOT / "plugins" / "mercenary_maintenance"
    offenders = [str(path.relative_to(package)) for path in package.rglob("*.py")
                 if path.name != "packaged.py" and "include" not in path.parts
                 and re.search(r'"include"\s*/|/\s*"include"', path.read_text())]
    assert offenders == [], "read include/ through mercenary_maintenance.packaged, not by path"
