"""Tasks of the logs area, declared as data, and the task groups the DAG files add."""

from __future__ import annotations

from functools import partial

from airflow.sdk import TriggerRule

from mercenary_maintenance import registry
from mercenary_maintenance.dagkit import Group, TaskSpec
from mercenary_maintenance.logs import errors, jobs

# Each mapped over the hosts (targets.hosts, or the implicit "local"): the files are on the host.
ARCHIVE = TaskSpec("archive_logs", partial(jobs.archive_logs, lifecycle_rules=registry.LIFECYCLE_RULES), over="hosts")
RETENTION = TaskSpec("check_log_retention", jobs.check_retention, over="hosts", trigger_rule=TriggerRule.ALL_DONE)
CLEAN_TMP = TaskSpec("clean_tmp", jobs.clean_tmp, over="hosts")
SCAN_ERRORS = TaskSpec("scan_log_errors", errors.scan_errors, over="hosts")


DAILY_GROUP = Group("logs", SCAN_ERRORS)
WEEKLY_GROUP = Group("logs", (ARCHIVE, RETENTION), CLEAN_TMP)
