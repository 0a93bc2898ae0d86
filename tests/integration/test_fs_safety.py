"""Filesystem safety: cleanup roots, log globs and symlinks, run ids in paths, the default
report location. Log archival runs against a real S3 (moto over HTTP)."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest
from mercenary_dev import servers

from mercenary_maintenance.config import ConfigError, load_config, parse_config
from mercenary_maintenance.logs import bodies, files
from mercenary_maintenance.logs.tasks import ARCHIVE
from mercenary_maintenance.report.store import open_store
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step

DAY = 86400


def _old(path: Path, text: str = "x\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = time.time() - 10 * DAY
    os.utime(path, (stamp, stamp))
    return path


def test_a_symlinked_cleanup_root_is_refused_at_config_load(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    config = tmp_path / "maintenance.yaml"
    config.write_text(json.dumps({"cleanup": {"roots": [str(real), str(link)]}}))
    with pytest.raises(ConfigError, match=r"cleanup\.roots.*cleanup\.roots\[1\].*is a symlink"):
        load_config(config)


@pytest.mark.parametrize("root", ["/", "//", "/tmp/../etc", "/tmp/x/..", "relative/dir"])
def test_root_dotdot_and_relative_cleanup_roots_are_refused(root: str) -> None:
    with pytest.raises(ConfigError, match=r"cleanup\.roots"):
        parse_config({"cleanup": {"roots": [root]}})


def test_a_root_that_becomes_a_symlink_after_load_is_not_swept(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    _old(victim / "precious.dat")
    root = tmp_path / "root"
    root.mkdir()
    cfg = parse_config({"cleanup": {"roots": [str(root)], "older_than_days": 1, "dry_run": False}})
    root.rmdir()
    root.symlink_to(victim)
    step = Step(cfg, RunInfo(dag_id="maintenance_weekly", run_id="r", task_id="tmp.cleanup"))
    bodies.clean_tmp(step, dry_run=False)
    assert (victim / "precious.dat").exists()


def test_log_globs_never_descend_into_symlinked_directories(tmp_path: Path) -> None:
    logs, outside = tmp_path / "logs", tmp_path / "outside"
    kept = _old(logs / "dag_id=a" / "run" / "1.log")
    _old(outside / "dag_id=b" / "x.log")
    _old(outside / "deep" / "y.log")
    (logs / "dag_id=linked").symlink_to(outside / "dag_id=b")
    (logs / "dag_id=a" / "linked_dir").symlink_to(outside / "deep")
    (logs / "dag_id=a" / "file_link.log").symlink_to(outside / "deep" / "y.log")
    for pattern in (f"{logs}/dag_id=*/**/*.log", f"{logs}/**/*.log", f"{logs}/*/*.log", f"{logs}/**"):
        base, found = files.expand(pattern)
        assert base == str(logs)
        assert all(files.symlink_below(p, base) is None for p in found), (pattern, found)
        assert not any("outside" in os.path.realpath(p) for p in found), (pattern, found)
    assert files.expand(f"{logs}/dag_id=*/**/*.log")[1] == [str(kept)]
    assert files.expand(f"{logs}/**/*.log")[1] == [str(kept)]


def test_log_archival_leaves_files_behind_a_symlinked_directory_alone(
        tmp_path: Path, s3: servers.S3Server, connections) -> None:
    bucket = f"fs-{uuid.uuid4().hex[:10]}"
    s3.client().create_bucket(Bucket=bucket)
    connections(s3.connection_env("maintenance_s3"))
    logs, outside = tmp_path / "logs", tmp_path / "outside"
    mine = _old(logs / "app" / "a.log")
    theirs = _old(outside / "b.log", "not ours\n")
    (logs / "app" / "elsewhere").symlink_to(outside)
    cfg = parse_config({"backups": {"bucket": bucket},
                        "logs": {"sets": [{"name": "app", "paths": [f"{logs}/**/*.log"], "archive_after_days": 1}]}})
    step = Step(cfg, RunInfo(dag_id="maintenance_weekly", run_id="r", task_id="logs.archive_logs"))
    ARCHIVE.body(step)
    assert not mine.exists(), "the set's own old file is archived and removed"
    assert theirs.read_text() == "not ours\n", "a file behind a symlinked directory is never touched"
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert len(keys) == 1
    assert "b.log" not in keys[0]


@pytest.mark.parametrize("run_id", ["../../escape", "/abs/path", "a/../../b", "..", "x\x00y", "a b\nc"])
def test_run_ids_never_leave_the_report_root(tmp_path: Path, run_id: str) -> None:
    root = tmp_path / "reports"
    store = open_store(f"file://{root}")
    store.put_part("maintenance_daily", run_id, "t.try1", {"ok": True})
    report = {"dag_id": "maintenance_daily", "run_id": run_id, "status": "ok"}
    store.write_report(report, "# r")
    everything = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(root in p.parents for p in everything), everything
    # The console's journal (_index/<stamp>__<dag_id>__<hash>.json) names runs by a hash only.
    journal = [p for p in everything if p.relative_to(root).parts[0] == "_index"]
    assert len(journal) == 1
    assert len(journal[0].relative_to(root).parts) == 2
    written = [p for p in everything if p not in journal]
    assert written, "something was written"
    assert all(len(p.relative_to(root).parts) in (3, 4) for p in written), written
    assert store.read_report("maintenance_daily", run_id) == report
    assert store.parts("maintenance_daily", run_id) == [{"ok": True}]
    [listed] = store.run_ids("maintenance_daily")
    assert store.read_report("maintenance_daily", listed) == report


def test_generated_run_ids_keep_their_paths(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}")
    run_id = "scheduled__2026-03-01T01:00:00+00:00"
    store.write_report({"dag_id": "maintenance_daily", "run_id": run_id, "status": "ok"}, "")
    assert (tmp_path / "maintenance_daily" / run_id / "report.json").is_file()


def test_default_report_location_is_under_airflow_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    url = parse_config({}).reports.url
    assert url == f"file://{tmp_path}/home/maintenance-reports"
    assert "/tmp/mercenary" not in load_config().reports.url.replace(str(tmp_path), "")
