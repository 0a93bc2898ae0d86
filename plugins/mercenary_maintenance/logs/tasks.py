"""Task builders of the logs area (called inside a maintenance DAG; they only wire tasks)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule, task, task_group


@task(task_id="archive_logs")
def archive_logs() -> dict[str, Any]:
    """logs.archive: compress, upload, verify, then delete old log files (lifecycle rules first)."""
    from mercenary_maintenance.logs import jobs
    from mercenary_maintenance.steps import execute_step

    return execute_step(jobs.archive_logs)


@task(task_id="check_log_retention", trigger_rule=TriggerRule.ALL_DONE)
def check_log_retention() -> dict[str, Any]:
    """logs.retention: lifecycle rule per set matches the config; local size within budget."""
    from mercenary_maintenance.logs import jobs
    from mercenary_maintenance.steps import execute_step

    return execute_step(jobs.check_retention)


@task(task_id="clean_tmp")
def clean_tmp() -> dict[str, Any]:
    """tmp.cleanup: old files under the configured roots (dry run unless configured)."""
    from mercenary_maintenance.logs import jobs
    from mercenary_maintenance.steps import execute_step

    return execute_step(jobs.clean_tmp)


@task(task_id="scan_log_errors")
def scan_log_errors() -> dict[str, Any]:
    """logs.errors: ERROR/FATAL/PANIC/tracebacks/5xx in the logs.error_scan sets since the last run."""
    from mercenary_maintenance.logs.errors import scan_errors
    from mercenary_maintenance.steps import execute_step

    return execute_step(scan_errors)


def daily() -> Any:
    @task_group(group_id="logs")
    def logs() -> None:
        scan_log_errors()

    return logs()


def weekly() -> Any:
    @task_group(group_id="logs")
    def logs() -> None:
        archive_logs() >> check_log_retention()
        clean_tmp()

    return logs()
