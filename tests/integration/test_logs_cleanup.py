"""tmp.cleanup on real directories: dry run by default, symlinks never followed, roots never left."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from mercenary_maintenance.config import ConfigError, parse_config
from mercenary_maintenance.findings import ActionStatus
from mercenary_maintenance.logs import bodies
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step

DAY = 86400


def _file(path: Path, size: int, days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = time.time() - days * DAY
    os.utime(path, (stamp, stamp))
    return path


def _tree(tmp_path: Path) -> dict[str, Path]:
    root, outside = tmp_path / "tmp", tmp_path / "precious"
    files = {
        "old": _file(root / "old.bin", 1000, 10),
        "nested_old": _file(root / "a" / "b" / "old.tmp", 500, 30),
        "fresh": _file(root / "fresh.bin", 700, 1),
        "outside": _file(outside / "keep.db", 300, 100),
        "outside_in_dir": _file(outside / "dir" / "keep2.db", 300, 100),
    }
    (root / "link_to_file").symlink_to(files["outside"])
    (root / "link_to_dir").symlink_to(outside / "dir")
    old = time.time() - 50 * DAY
    os.utime(root / "link_to_file", (old, old), follow_symlinks=False)
    files["root"] = root
    return files


def _step(root: Path, **cleanup: Any) -> Step:
    cfg = parse_config({"cleanup": {"roots": [str(root)], "older_than_days": 7, **cleanup}})
    return Step(cfg, RunInfo(dag_id="maintenance_weekly", run_id="r", task_id="logs.clean_tmp"))


def test_dry_run_is_the_default_and_lists_files_and_bytes(tmp_path):
    files = _tree(tmp_path)
    step = _step(files["root"])
    bodies.clean_tmp(step)
    (action,) = step.actions
    assert action.status is ActionStatus.DRY_RUN
    assert action.details["file_count"] == 2
    assert action.details["bytes"] == 1500
    assert {Path(f["path"]).name for f in action.details["files"]} == {"old.bin", "old.tmp"}
    assert all(p.exists() for p in files.values())
    assert [f.details["phase"] for f in step.findings if f.check == "host.disk_usage"] == ["before"]


def test_cleanup_removes_old_files_only_inside_the_root_never_through_links(tmp_path):
    files = _tree(tmp_path)
    step = _step(files["root"], dry_run=False)
    bodies.clean_tmp(step)
    (action,) = step.actions
    assert action.status is ActionStatus.DONE, action
    assert (action.details["deleted"], action.details["deleted_bytes"]) == (2, 1500)
    assert not files["old"].exists()
    assert not files["nested_old"].exists()
    for kept in ("fresh", "outside", "outside_in_dir"):
        assert files[kept].exists(), kept
    assert (files["root"] / "link_to_file").is_symlink()
    skipped = {Path(s["path"]).name for s in action.details["skipped"]}
    assert {"link_to_file", "link_to_dir"} <= skipped
    assert {f.details["phase"] for f in step.findings if f.check == "host.disk_usage"} == {"before", "after"}


def test_a_root_that_is_missing_is_reported_not_created(tmp_path):
    step = _step(tmp_path / "nope", dry_run=False)
    bodies.clean_tmp(step)
    assert step.actions[0].details["skipped"] == [{"path": str(tmp_path / "nope"), "reason": "root does not exist"}]
    assert not (tmp_path / "nope").exists()


def test_filesystem_root_is_refused_by_the_config():
    with pytest.raises(ConfigError, match=r"cleanup\.roots"):
        parse_config({"cleanup": {"roots": ["/"]}})
