"""Task builders of the backups area (called inside a maintenance DAG; they only wire tasks).

Heavy tasks (dumps, restores) use ``HEAVY_POOL`` and take the target's maintenance lock;
every task is mapped over the configured PostgreSQL targets (read at run time).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task, task_group

from mercenary_maintenance.dagkit import HEAVY_POOL, list_targets


def _postgres_targets() -> Any:
    return list_targets.override(task_id="list_postgres_targets")("postgres")


@task(task_id="ensure_lifecycle")
def ensure_lifecycle() -> dict[str, Any]:
    """backup.lifecycle: the bucket's expiry/Glacier rules equal the retention config (idempotent)."""
    from mercenary_maintenance import bucket_lifecycle
    from mercenary_maintenance.backups.pgconn import s3_client
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        cfg = step.cfg.backups
        with step.action("backup.lifecycle", cfg.bucket, why="retention as S3 lifecycle rules") as act:
            changes = bucket_lifecycle.ensure(s3_client(cfg.conn_id), step.cfg)
            if changes:
                act.done(f"lifecycle rules updated: {'; '.join(changes)}", changes=changes)
            else:
                act.skipped("lifecycle rules already match the config")

    return execute_step(body)


@task(task_id="backup_full", pool=HEAVY_POOL)
def backup_full(target: str) -> dict[str, Any]:
    """backup.full: pg_dump → zstd → S3 multipart, manifest last."""
    from mercenary_maintenance.backups import actions
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        actions.backup_full(step, target)

    return execute_step(body)


@task(task_id="expire_backups")
def expire_backups(target: str) -> dict[str, Any]:
    """backup.expire: delete expired backups (dry-run unless backups.delete_expired)."""
    from mercenary_maintenance.backups import retention
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        retention.expire(step, target)

    return execute_step(body)


@task(task_id="backup_incremental", pool=HEAVY_POOL)
def backup_incremental(target: str) -> dict[str, Any]:
    """backup.incremental: pg_basebackup --incremental (17+) or an honest logical snapshot."""
    from mercenary_maintenance.backups import incremental
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        incremental.backup_incremental(step, target)

    return execute_step(body)


@task(task_id="verify_backups")
def verify_backups(target: str) -> dict[str, Any]:
    """backup.freshness, backup.integrity, backup.capacity, backup.redundancy for one target."""
    from mercenary_maintenance.backups import verify
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        verify.run_daily(step, target)

    return execute_step(body)


@task(task_id="sample_restore", pool=HEAVY_POOL)
def sample_restore(target: str) -> dict[str, Any]:
    """backup.sample_restore: schema + the smallest tables of the latest full backup, counts vs manifest."""
    from mercenary_maintenance.backups import sample
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        sample.sample_restore(step, target)

    return execute_step(body)


@task(task_id="check_retention")
def check_retention() -> dict[str, Any]:
    """backup.retention (lifecycle vs config) and backup.uploads_versioning."""
    from mercenary_maintenance.backups import verify
    from mercenary_maintenance.steps import execute_step

    return execute_step(verify.run_bucket_checks)


@task(task_id="restore_test", pool=HEAVY_POOL)
def restore_test(target: str) -> dict[str, Any]:
    """backup.restore_test: latest full backup → scratch database, row counts vs manifest."""
    from mercenary_maintenance.backups import actions
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        actions.restore_test(step, target)

    return execute_step(body)


@task(task_id="restore_test_chain", pool=HEAVY_POOL)
def restore_test_chain(target: str) -> dict[str, Any]:
    """backup.restore_test of the incremental chain: combine, verify, start, count (PG 17+)."""
    from mercenary_maintenance.backups import incremental
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        incremental.restore_chain_test(step, target)

    return execute_step(body)


def full() -> Any:
    @task_group(group_id="backups")
    def group() -> None:
        targets = _postgres_targets()
        dumps = backup_full.expand(target=targets)
        ensure_lifecycle() >> dumps
        # Expire only after every backup succeeded, and (backups.delete_expired) after an approval
        # when approvals.required_for lists retention_delete.
        from mercenary_maintenance.approvals.operator import approval_gate

        dumps >> approval_gate("retention_delete") >> expire_backups.expand(target=targets)

    return group()


def incremental() -> Any:
    @task_group(group_id="backups")
    def group() -> None:
        backup_incremental.expand(target=_postgres_targets())

    return group()


def daily_verification() -> Any:
    @task_group(group_id="backups")
    def group() -> None:
        targets = _postgres_targets()
        verify_backups.expand(target=targets)
        sample_restore.expand(target=targets)  # independent of verify: one failing must not skip the other
        check_retention()

    return group()


def weekly_restore_test() -> Any:
    @task_group(group_id="backups")
    def group() -> None:
        restore_test.expand(target=_postgres_targets())

    return group()


def monthly_restore_test() -> Any:
    @task_group(group_id="backups")
    def group() -> None:
        targets = _postgres_targets()
        restore_test.expand(target=targets)
        restore_test_chain.expand(target=targets)  # independent: one failing must not skip the other

    return group()
