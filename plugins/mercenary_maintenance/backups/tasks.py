"""Tasks of the backups area, declared as data, and the task groups the DAG files add.

Heavy tasks (dumps, restores) use ``HEAVY_POOL`` and take the target's maintenance lock;
every per-target task is mapped over the configured PostgreSQL targets (read at run time).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from airflow.sdk import task_group

from mercenary_maintenance import registry
from mercenary_maintenance.backups import actions, lifecycle, retention, sample, verify
from mercenary_maintenance.backups import incremental as chain
from mercenary_maintenance.dagkit import TaskSpec, targets

ENSURE_LIFECYCLE = TaskSpec("ensure_lifecycle",
                            partial(lifecycle.ensure_lifecycle, lifecycle_rules=registry.LIFECYCLE_RULES),
                            doc="backup.lifecycle: the bucket's expiry/Glacier rules equal the retention config "
                                "(idempotent).")
BACKUP_FULL = TaskSpec("backup_full", actions.backup_full, over="postgres", heavy=True,
                       doc="backup.full: pg_dump → zstd → S3 multipart, manifest last.")
EXPIRE = TaskSpec("expire_backups", retention.expire, over="postgres",
                  doc="backup.expire: delete expired backups (dry-run unless backups.delete_expired).")
BACKUP_INCREMENTAL = TaskSpec("backup_incremental", chain.backup_incremental, over="postgres", heavy=True,
                              doc="backup.incremental: pg_basebackup --incremental (17+) or an honest logical "
                                  "snapshot.")
VERIFY = TaskSpec("verify_backups", verify.run_daily, over="postgres",
                  doc="backup.freshness, backup.integrity, backup.capacity, backup.redundancy for one target.")
SAMPLE_RESTORE = TaskSpec("sample_restore", sample.sample_restore, over="postgres", heavy=True,
                          doc="backup.sample_restore: schema + the smallest tables of the latest full backup, "
                              "counts vs manifest.")
CHECK_RETENTION = TaskSpec("check_retention", verify.run_bucket_checks,
                           doc="backup.retention (lifecycle vs config) and backup.uploads_versioning.")
RESTORE_TEST = TaskSpec("restore_test", actions.restore_test, over="postgres", heavy=True,
                        doc="backup.restore_test: latest full backup → scratch server, row counts vs manifest.")
RESTORE_CHAIN = TaskSpec("restore_test_chain", chain.restore_chain_test, over="postgres", heavy=True,
                         doc="backup.restore_test of the incremental chain: combine, verify, start, count (PG 17+).")


def full() -> Any:
    from mercenary_maintenance.approvals.operator import approval_gate

    @task_group(group_id="backups")
    def group() -> None:
        found = targets("postgres")
        dumps = BACKUP_FULL.expand(found)
        ENSURE_LIFECYCLE.add() >> dumps
        # Expire only after every backup succeeded, and (backups.delete_expired) after an approval
        # when approvals.required_for lists retention_delete.
        dumps >> approval_gate("retention_delete") >> EXPIRE.expand(found)

    return group()


def incremental() -> Any:
    @task_group(group_id="backups")
    def group() -> None:
        BACKUP_INCREMENTAL.expand(targets("postgres"))

    return group()


def daily_verification() -> Any:
    @task_group(group_id="backups")
    def group() -> None:
        found = targets("postgres")
        VERIFY.expand(found)
        SAMPLE_RESTORE.expand(found)  # independent of verify: one failing must not skip the other
        CHECK_RETENTION.add()

    return group()


def weekly_restore_test() -> Any:
    @task_group(group_id="backups")
    def group() -> None:
        RESTORE_TEST.expand(targets("postgres"))

    return group()


def monthly_restore_test() -> Any:
    @task_group(group_id="backups")
    def group() -> None:
        found = targets("postgres")
        RESTORE_TEST.expand(found)
        RESTORE_CHAIN.expand(found)  # independent: one failing must not skip the other

    return group()
