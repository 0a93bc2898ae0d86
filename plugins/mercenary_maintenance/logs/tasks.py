"""Tasks of the logs area, declared as data, and the task groups the DAG files add."""

from __future__ import annotations

from functools import partial
from typing import Any

from airflow.sdk import TriggerRule, task_group

from mercenary_maintenance import registry
from mercenary_maintenance.dagkit import TaskSpec
from mercenary_maintenance.logs import errors, jobs

ARCHIVE = TaskSpec("archive_logs", partial(jobs.archive_logs, lifecycle_rules=registry.LIFECYCLE_RULES),
                   doc="logs.archive: compress, upload, verify, then delete old log files (lifecycle rules first).")
RETENTION = TaskSpec("check_log_retention", jobs.check_retention, trigger_rule=TriggerRule.ALL_DONE,
                     doc="logs.retention: lifecycle rule per set matches the config; local size within budget.")
CLEAN_TMP = TaskSpec("clean_tmp", jobs.clean_tmp,
                     doc="tmp.cleanup: old files under the configured roots (dry run unless configured).")
SCAN_ERRORS = TaskSpec("scan_log_errors", errors.scan_errors,
                       doc="logs.errors: ERROR/FATAL/PANIC/tracebacks/5xx in the logs.error_scan sets since the "
                           "last run.")


def daily() -> Any:
    @task_group(group_id="logs")
    def logs() -> None:
        SCAN_ERRORS.add()

    return logs()


def weekly() -> Any:
    @task_group(group_id="logs")
    def logs() -> None:
        ARCHIVE.add() >> RETENTION.add()
        CLEAN_TMP.add()

    return logs()
