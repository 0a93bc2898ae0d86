"""Tasks of the logs area, declared as data, and the task groups the DAG files add."""

from __future__ import annotations

from functools import partial

from airflow.sdk import TriggerRule

from mercenary_maintenance.logs import bodies
from mercenary_maintenance.wiring import registry
from mercenary_maintenance.wiring.dagkit import Group, TaskSpec

# Each mapped over the hosts (targets.hosts, or the implicit "local"): the files are on the host.
ARCHIVE = TaskSpec("archive_logs", partial(bodies.archive_logs, lifecycle_rules=registry.LIFECYCLE_RULES), over="hosts")
RETENTION = TaskSpec("check_log_retention", bodies.check_retention, over="hosts", trigger_rule=TriggerRule.ALL_DONE)
CLEAN_TMP = TaskSpec("clean_tmp", bodies.clean_tmp, over="hosts")
SCAN_ERRORS = TaskSpec("scan_log_errors", bodies.scan_errors, over="hosts")


DAILY_GROUP = Group("logs", SCAN_ERRORS)
WEEKLY_GROUP = Group("logs", (ARCHIVE, RETENTION), CLEAN_TMP)
