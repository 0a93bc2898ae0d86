"""Tasks of the backups area, declared as data, and the task groups the DAG files add.

Heavy tasks (dumps, restores) use ``HEAVY_POOL`` and take the target's maintenance lock;
every per-target task is mapped over the configured PostgreSQL targets (read at run time).
"""

from __future__ import annotations

from functools import partial

from mercenary_maintenance.backups import bodies
from mercenary_maintenance.wiring import registry
from mercenary_maintenance.wiring.dagkit import Gate, Group, TaskSpec

ENSURE_LIFECYCLE = TaskSpec("ensure_lifecycle",
                            partial(bodies.ensure_lifecycle, lifecycle_rules=registry.LIFECYCLE_RULES))
BACKUP_FULL = TaskSpec("backup_full", bodies.backup_full, over="postgres", heavy=True)
EXPIRE = TaskSpec("expire_backups", bodies.expire, over="postgres")
BACKUP_INCREMENTAL = TaskSpec("backup_incremental", bodies.backup_incremental, over="postgres", heavy=True)
VERIFY = TaskSpec("verify_backups", bodies.verify_backups, over="postgres")
SAMPLE_RESTORE = TaskSpec("sample_restore", bodies.sample_restore, over="postgres", heavy=True)
CHECK_RETENTION = TaskSpec("check_retention", bodies.check_retention)
COPY_UPLOADS = TaskSpec("copy_uploads", bodies.copy_uploads)
CHECK_UPLOADS = TaskSpec("check_uploads", bodies.check_uploads)
REREAD = TaskSpec("reread_backups", bodies.reread, over="postgres")
CONFIG_FILES = TaskSpec("backup_config_files", bodies.backup_config, over="hosts")
RESTORE_TEST = TaskSpec("restore_test", bodies.restore_test, over="postgres", heavy=True)
RESTORE_CHAIN = TaskSpec("restore_test_chain", bodies.restore_chain_test, over="postgres", heavy=True)


# Expire only after every backup succeeded, and (backups.delete_expired) after an approval when
# approvals.required_for lists retention_delete. The lifecycle write is on its own: its failure
# (a role without lifecycle permissions) is a finding, never a missing backup.
FULL_BACKUP_GROUP = Group("backups", ENSURE_LIFECYCLE, (BACKUP_FULL, Gate("retention_delete"), EXPIRE))
INCREMENTAL = Group("backups", BACKUP_INCREMENTAL, COPY_UPLOADS)
# Independent: one failing must not skip another.
DAILY_VERIFICATION = Group("backups", VERIFY, SAMPLE_RESTORE, CHECK_RETENTION, CHECK_UPLOADS, REREAD, CONFIG_FILES)
WEEKLY_RESTORE_TEST = Group("backups", RESTORE_TEST)
MONTHLY_RESTORE_TEST = Group("backups", RESTORE_TEST, RESTORE_CHAIN)
