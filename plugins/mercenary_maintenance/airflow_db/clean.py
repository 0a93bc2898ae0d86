"""``airflow db clean`` of Airflow's metadata database, and the proof that it cleaned (the task body: :mod:`.bodies`).

Airflow 3 tasks may not use the ORM, so the clean runs as the ``airflow`` CLI in a subprocess
(through :mod:`mercenary_maintenance.runner`) given the metadata database explicitly: libpq's
environment of the ``airflow_db.conn_id`` connection (the password in ``PGPASSWORD``, never on
a command line), every statement under ``statement_timeout``/``lock_timeout`` (``PGOPTIONS``),
the process under a deadline, in a throw-away ``AIRFLOW_HOME`` (no plugins, no DAGs, no config
of the worker's). ``--error-on-cleanup-failure``: by default the command swallows a table's
failure and exits 0. Then each cleaned table's oldest row is measured: rows older than the cutoff
that are still there mean the clean did not happen, whatever the command said.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mercenary_maintenance import packaged, runner
from mercenary_maintenance.adapters import postgres as adapter
from mercenary_maintenance.adapters.postgres import program_env
from mercenary_maintenance.findings import Finding, Severity

if TYPE_CHECKING:
    from mercenary_maintenance.config import AirflowDbConfig, TimeoutsConfig
    from mercenary_maintenance.steps import Step

CLEAN = "airflow_db.clean"
RETENTION = "airflow_db.retention"
TARGET = "airflow_db"
# The column `airflow db clean` ages each table by (airflow.utils.db_cleanup.config_list).
RECENCY = {"log": "dttm", "job": "latest_heartbeat", "dag_run": "start_date", "task_instance": "start_date",
           "task_instance_history": "start_date", "task_reschedule": "start_date", "xcom": "timestamp",
           "import_error": "timestamp"}
# Tables where the clean keeps rows whatever their age (dag_run: the last scheduled run of each DAG).
KEEP_LAST_SQL = {"dag_run": "oldest_dag_run"}
OUTPUT_LINES = 20
# What made a clean fail, as the server or the driver says it (the CLI ends with a bare traceback).
CAUSES = re.compile(r"canceling statement due to [a-z ]+|could not connect[^\n]*|password authentication failed[^\n]*"
                    r"|permission denied[^\n]*|deadlock detected|could not obtain lock[^\n]*", re.IGNORECASE)
NOT_CLEANED = re.compile(r"did not clean them: (\[[^\]]*\])")


class CleanFailed(RuntimeError):
    """``airflow db clean`` exited non-zero; the message says why, ``output`` holds its causes and tail."""

    def __init__(self, returncode: int, output: str) -> None:
        self.output = output
        super().__init__(f"exit {returncode}, {failure_summary(output)}")


def clean_argv(cutoff: datetime, tables: Sequence[str], batch_size: int) -> list[str]:
    """The command line (no secret on it).

    >>> from datetime import UTC
    >>> clean_argv(datetime(2026, 9, 1, tzinfo=UTC), ["log", "job"], 500)[4:]
    ['clean', '--clean-before-timestamp', '2026-09-01T00:00:00+00:00', '--tables', 'log,job', '--batch-size', \
'500', '--skip-archive', '--error-on-cleanup-failure', '--yes']
    """
    return [sys.executable, "-m", "airflow", "db", "clean", "--clean-before-timestamp", cutoff.isoformat(),
            "--tables", ",".join(tables), "--batch-size", str(batch_size),
            # Archive tables would keep every purged row in the same database: the clean would free nothing.
            "--skip-archive", "--error-on-cleanup-failure", "--yes"]


def millis(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def clean_env(libpq: dict[str, str], home: str, statement_timeout_s: float, lock_timeout_s: float) -> dict[str, str]:
    """The child's environment: the metadata connection as libpq variables, Airflow pointed at it.

    >>> env = clean_env({"PGHOST": "db", "PGPASSWORD": "s"}, "/tmp/h", 2.5, 1)
    >>> env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], env["PGOPTIONS"]
    ('postgresql+psycopg://', '-c statement_timeout=2500 -c lock_timeout=1000')
    """
    return {**libpq,
            "PGOPTIONS": f"-c statement_timeout={millis(statement_timeout_s)} -c lock_timeout={millis(lock_timeout_s)}",
            # No host, user or password in the URL: libpq takes them from PGHOST, PGUSER, PGPASSWORD, …
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg://",
            "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": home, "AIRFLOW__CORE__PLUGINS_FOLDER": home}


def retention_finding(rows: dict[str, dict[str, Any]], cutoff: datetime, retention_days: int,
                      clean_ok: bool) -> Finding:
    """``airflow_db.retention`` from the measured tables: rows older than the cutoff left behind are critical.

    >>> from datetime import UTC
    >>> cut = datetime(2026, 9, 1, tzinfo=UTC)
    >>> f = retention_finding({"log": {"oldest_s": 86400.0 * 80, "stale": 0, "total": 5}}, cut, 90, True)
    >>> f.severity.label, f.value
    ('ok', 80.0)
    >>> f = retention_finding({"log": {"oldest_s": 86400.0 * 400, "stale": 3, "total": 9}}, cut, 90, True)
    >>> f.severity.label, f.message.split(": ")[1]
    ('critical', 'log 3 (oldest 400.0 d)')
    """
    stale = {t: r for t, r in rows.items() if r["stale"]}
    oldest = max((float(r["oldest_s"]) for r in rows.values() if r["oldest_s"] is not None), default=0.0)
    days = round(oldest / 86400, 1)
    details = {"cutoff": cutoff.isoformat(), "tables": {t: {"oldest_days": None if r["oldest_s"] is None
                                                               else round(float(r["oldest_s"]) / 86400, 1),
                                                               "stale_rows": int(r["stale"]), "rows": int(r["total"])}
                                                           for t, r in sorted(rows.items())}}
    if stale:
        listed = ", ".join(f"{t} {r['stale']} (oldest {float(r['oldest_s']) / 86400:.1f} d)"
                           for t, r in sorted(stale.items()))
        lead = "the clean reported success, yet" if clean_ok else "after the failed clean"
        return Finding(RETENTION, TARGET, Severity.CRITICAL,
                       f"{lead} {sum(int(r['stale']) for r in stale.values())} row(s) older than the "
                       f"{retention_days}-day retention remain: {listed}", value=days, threshold=retention_days,
                       details=details)
    return Finding(RETENTION, TARGET, Severity.OK,
                   f"oldest row {days:.1f} d across {len(rows)} table(s) (retention {retention_days} d)",
                   value=days, threshold=retention_days, details=details)


def measure(conn_id: str, tables: Sequence[str], cutoff: datetime, statement_timeout_s: float,
            timeouts: TimeoutsConfig) -> dict[str, dict[str, Any]]:
    """Oldest row age, rows older than ``cutoff`` and row count of each table (read-only, bounded)."""
    from psycopg import sql
    from psycopg.rows import dict_row

    out: dict[str, dict[str, Any]] = {}
    conn: Any = adapter.connect(conn_id, purpose="airflow-db-retention", timeouts=timeouts)
    try:
        bound = statement_timeout_s + timeouts.postgres.read_grace_s
        with adapter.read_deadline(conn, bound, "airflow_db.retention settings"):
            conn.execute("SELECT set_config('default_transaction_read_only', 'on', false), "
                         "set_config('statement_timeout', %s, false)", [f"{millis(statement_timeout_s)}ms"])
        for table in tables:
            name = KEEP_LAST_SQL.get(table, "oldest_row")
            query = sql.SQL(packaged.sql_text("airflow_db", name)).format(
                table=sql.Identifier(table), column=sql.Identifier(RECENCY[table]))
            with adapter.read_deadline(conn, bound, f"oldest row of {table}"), conn.cursor(row_factory=dict_row) as cur:
                cur.execute(query, {"cutoff": cutoff})
                out[table] = dict(cur.fetchone() or {"oldest_s": None, "stale": 0, "total": 0})
    finally:
        conn.close()
    return out


def run_clean(step: Step, cfg: AirflowDbConfig, cutoff: datetime) -> str:
    """``airflow db clean`` within its bounds; the last lines of its output. Raises :class:`CleanFailed`
    on a non-zero exit, ``runner.CommandTimeout`` at the deadline."""

    assert cfg.conn_id is not None
    libpq, _ = program_env(cfg.conn_id, purpose="airflow-db-clean", timeouts=step.cfg.timeouts)
    with tempfile.TemporaryDirectory(prefix="mm-airflow-db-") as home:
        proc = runner.run(clean_argv(cutoff, cfg.tables, cfg.batch_size),
                          env=clean_env(libpq, home, step.run.statement_timeout(cfg.statement_timeout_seconds),
                                        cfg.lock_timeout_seconds),
                          timeout=step.run.statement_timeout(cfg.timeout_minutes * 60), check=False,
                          kill_grace_s=step.cfg.timeouts.subprocess.kill_grace_s)
    # The cause (the server's error) is logged on stdout, the final traceback on stderr: keep both.
    output = runner.mask("\n".join([proc.stdout or "", proc.stderr or ""]))
    if proc.returncode != 0:
        raise CleanFailed(proc.returncode, output)
    return "\n".join(output.strip().splitlines()[-OUTPUT_LINES:])


def failure_summary(output: str) -> str:
    """Why ``airflow db clean`` failed, from its output: the tables it did not clean and the causes.

    >>> failure_summary("psycopg.errors.QueryCanceled: canceling statement due to statement timeout\\n"
    ...                 "Traceback ...\\nRuntimeError: ... did not clean them: ['log']. Check the logs")
    "tables not cleaned ['log']: canceling statement due to statement timeout"
    >>> failure_summary("Traceback\\nKeyError: 'x'")
    "KeyError: 'x'"
    """
    causes = list(dict.fromkeys(m.group(0).strip() for m in CAUSES.finditer(output)))
    tables = NOT_CLEANED.search(output)
    head = f"tables not cleaned {tables.group(1)}" if tables else ""
    if head or causes:
        return ": ".join(p for p in (head, "; ".join(causes[:3])) if p)
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def runner_output(exc: BaseException) -> str:
    """A failed clean's cause lines and output tail ('' for other errors: a timeout names itself)."""
    output = str(getattr(exc, "output", "") or "")
    causes = [line.strip() for line in output.splitlines() if CAUSES.search(line)][:5]
    return "\n".join([*causes, *output.strip().splitlines()[-OUTPUT_LINES:]])
