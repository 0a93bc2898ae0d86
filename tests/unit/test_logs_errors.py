"""logs.errors: lines counted once across runs, rotation and truncation, secrets redacted."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mercenary_maintenance.config import parse_config
from mercenary_maintenance.logs.bodies import scan_errors
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step

PG_ERR = '2026-12-01 10:00:0{} UTC [4242] ERROR:  duplicate key value violates unique constraint "users_pkey"\n'
OK_LINE = "2026-12-01 10:00:00 UTC [4242] LOG:  checkpoint complete\n"


def review(tmp_path: Path, logdir: Path, **limits: Any) -> Any:
    cfg = parse_config({"reports": {"url": f"file://{tmp_path}/reports"}, "logs": {"error_scan": [
        {"name": "app", "paths": [f"{logdir}/*.log"], "warning": limits.get("warning", 2),
         "critical": limits.get("critical", 5)}]}})
    step = Step(cfg, RunInfo(dag_id="maintenance_daily", run_id="r"))
    scan_errors(step)
    assert step.errors == []
    [finding] = step.findings
    return finding


def append(path: Path, text: str) -> None:
    with path.open("a") as fh:
        fh.write(text)


def test_errors_between_runs_are_counted_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    app.write_text(PG_ERR.format(1) * 50 + OK_LINE)  # old errors, before the first review
    first = review(tmp_path, logs)
    assert (first.severity.label, first.details["baseline"]) == ("ok", True)
    append(app, OK_LINE + PG_ERR.format(2) + "Traceback (most recent call last):\n" + OK_LINE)
    second = review(tmp_path, logs)
    assert second.value == 2
    assert second.severity.label == "ok"  # 2 is not above warning 2 (limits exclusive)
    assert second.details["top"][0]["signature"] == '[N] ERROR:  duplicate key value violates unique constraint ?'
    third = review(tmp_path, logs)
    assert third.value == 0  # nothing new: nothing counted again
    append(app, "".join(PG_ERR.format(i) for i in range(6)) + '127.0.0.1 - - "GET /api HTTP/1.1" 502 17\n'
           + "half a line without its newline ERROR")
    fourth = review(tmp_path, logs)
    assert fourth.value == 7
    assert fourth.severity.label == "critical"
    append(app, " continues\n")
    assert review(tmp_path, logs).value == 1  # the half line, counted once it is complete


def test_rotation_by_rename_and_a_new_file(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    app.write_text(OK_LINE)
    review(tmp_path, logs)
    append(app, PG_ERR.format(1))  # written just before the rotation
    os.rename(app, logs / "app.log.1")  # logrotate: rename, then the application reopens a new file
    app.write_text(PG_ERR.format(2) + PG_ERR.format(3))
    after = review(tmp_path, logs)
    assert after.value == 3
    assert any("rotated to" in e for e in after.details["events"])
    assert review(tmp_path, logs).value == 0


def test_truncation_in_place(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    app.write_text(OK_LINE * 100)
    review(tmp_path, logs)
    app.write_text(PG_ERR.format(1))  # copytruncate, then one new line: shorter than the offset
    after = review(tmp_path, logs)
    assert after.value == 1
    assert any("truncated" in e for e in after.details["events"])


def test_quoted_lines_are_redacted(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    app.write_text("")
    review(tmp_path, logs)
    append(app, "ERROR connect failed dsn=postgresql://app:Sup3r-S3cret@db:5432/x password=Sup3r-S3cret\n")
    after = review(tmp_path, logs)
    example = after.details["top"][0]["example"]
    assert "Sup3r-S3cret" not in str(after.to_dict())
    assert "password=***" in example
    assert "app:***@db" in example


def test_nothing_configured_says_so(tmp_path: Path) -> None:
    cfg = parse_config({"reports": {"url": f"file://{tmp_path}/reports"}})
    step = Step(cfg, RunInfo(dag_id="maintenance_daily", run_id="r"))
    scan_errors(step)
    assert step.findings[0].details["not_configured"] is True
