"""Tasks of the logs area, declared as data, and the task groups the DAG files add."""

from __future__ import annotations

from functools import partial

from airflow.sdk import TriggerRule

from mercenary_maintenance import registry
from mercenary_maintenance.dagkit import Group, TaskSpec
from mercenary_maintenance.logs import errors, jobs

ARCHIVE = TaskSpec("archive_logs", partial(jobs.archive_logs, lifecycle_rules=registry.LIFECYCLE_RULES))
RETENTION = TaskSpec("check_log_retention", jobs.check_retention, trigger_rule=TriggerRule.ALL_DONE)
CLEAN_TMP = TaskSpec("clean_tmp", jobs.clean_tmp)
SCAN_ERRORS = TaskSpec("scan_log_errors", errors.scan_errors)


DAILY_GROUP = Group("logs", SCAN_ERRORS)
WEEKLY_GROUP = Group("logs", (ARCHIVE, RETENTION), CLEAN_TMP)
