"""The task body of the airflow_db area; the clean itself (the CLI in a subprocess, its bounds, the
measure of what it left) is :mod:`.clean`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from mercenary_maintenance.airflow_db import clean
from mercenary_maintenance.findings import Finding, Severity, not_configured
from mercenary_maintenance.redact import first_line

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def clean_metadata(step: Step) -> None:
    """Airflow's metadata database: ``airflow db clean`` of rows older than ``airflow_db.retention_days``,
    then the oldest row of each cleaned table measured.

    Runs the ``airflow`` CLI in a subprocess against ``airflow_db.conn_id`` (never Airflow's ORM), each
    statement under ``statement_timeout``/``lock_timeout``, the process under a deadline within the
    window. A failing clean is a critical ``airflow_db.clean`` finding and fails the task; rows older
    than the cutoff left behind (a clean that failed silently) make ``airflow_db.retention`` critical.
    """
    cfg = step.cfg.airflow_db
    if cfg.conn_id is None:
        step.add(not_configured(clean.CLEAN, clean.TARGET, "airflow_db.conn_id is not set: Airflow's metadata "
                                "database is not cleaned (its tables grow without bound)"))
        return
    cutoff = datetime.now(UTC) - timedelta(days=cfg.retention_days)
    clean_ok = False
    with step.action(clean.CLEAN, clean.TARGET, why=f"remove metadata rows older than {cfg.retention_days} days "
                     f"(before {cutoff:%Y-%m-%d %H:%M} UTC) from {', '.join(cfg.tables)}",
                     tables=cfg.tables, cutoff=cutoff.isoformat()) as act:
        try:
            output = clean.run_clean(step, cfg, cutoff)
        except Exception as exc:
            message = f"airflow db clean failed: {first_line(exc)}"
            act.failed(message, error=type(exc).__name__)
            step.add(Finding(clean.CLEAN, clean.TARGET, Severity.CRITICAL, message,
                             details={"error": type(exc).__name__, "output": clean.runner_output(exc)}))
        else:
            clean_ok = True
            act.done(f"airflow db clean removed rows older than {cutoff:%Y-%m-%d} from {len(cfg.tables)} table(s)",
                     output=output)
            step.add(Finding(clean.CLEAN, clean.TARGET, Severity.OK, f"cleaned {len(cfg.tables)} table(s) to the "
                             f"{cfg.retention_days}-day retention", details={"tables": cfg.tables}))
    conn_id = cfg.conn_id
    step.check(clean.RETENTION, clean.TARGET, lambda: clean.retention_finding(
        clean.measure(conn_id, cfg.tables, cutoff, step.run.statement_timeout(cfg.statement_timeout_seconds),
                      step.cfg.timeouts), cutoff, cfg.retention_days, clean_ok))
