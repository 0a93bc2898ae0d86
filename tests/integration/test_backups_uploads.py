"""User uploads (issue 26 item 10) against moto S3 over HTTP: versioning and the noncurrent expiry are
enforced, new versions are copied server-side to the backup bucket and verified, a deleted upload is
restorable from the copy, and unset means "not configured", never nothing."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import pytest

from mercenary_maintenance.backups import bodies, uploads
from mercenary_maintenance.findings import ActionStatus, Severity
from tests.integration.backup_helpers import backup_env
from tests.integration.test_backups_full import make_step


@pytest.fixture(scope="module")
def source(pg: Any) -> str:
    pg.create_database("bk_uploads")  # the session's server is shared: a database of this module's own
    return "bk_uploads"


@pytest.fixture
def env(pg, s3, source, write_config, connections) -> Any:
    return backup_env(pg, s3, source, write_config, connections, "bupl")


def by_check(step, name):
    return [f for f in step.findings if f.check == name]


def test_new_versions_are_copied_verified_and_a_deleted_upload_is_restorable(env, s3):
    client = s3.client()
    bucket = f"up-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="avatars/a.png", Body=b"first picture")  # before versioning: "null"
    cfg = env(uploads={"bucket": bucket, "copy_every_hours": 0.0001})
    backup_bucket = cfg["backups"]["bucket"]

    before = make_step("maintenance_daily")
    bodies.check_uploads(before)
    assert by_check(before, "backup.uploads_versioning")[0].severity is Severity.CRITICAL  # not versioned yet
    [waiting] = by_check(before, "backup.uploads_copy")
    assert waiting.details["uncopied"] == 1

    first = make_step("backup_incremental")
    bodies.copy_uploads(first)
    [act] = first.actions
    assert act.status is ActionStatus.DONE, act
    assert act.details["copied"] == 1
    assert "versioning enabled" in act.details["bucket_changes"]
    assert client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in rules if r["ID"] == uploads.RULE_ID] == [90]

    # a new version of the same key is copied on the next run, beside the first one
    new = client.put_object(Bucket=bucket, Key="avatars/a.png", Body=b"second picture")["VersionId"]
    time.sleep(0.5)
    second = make_step("backup_incremental")
    bodies.copy_uploads(second)
    assert second.actions[0].details["copied"] == 1, second.actions
    dest = uploads.copy_key(bucket, "avatars/a.png", new)
    head = client.head_object(Bucket=backup_bucket, Key=dest, ChecksumMode="ENABLED")
    assert head["Metadata"]["sha256"] == hashlib.sha256(b"second picture").hexdigest()
    assert client.get_object(Bucket=backup_bucket, Key=dest)["Body"].read() == b"second picture"
    copies = client.list_objects_v2(Bucket=backup_bucket, Prefix=f"uploads/{bucket}/avatars/")["KeyCount"]
    assert copies == 2

    after = make_step("maintenance_daily")
    bodies.check_uploads(after)
    assert [f.severity for f in after.findings] == [Severity.OK, Severity.OK], after.findings
    assert by_check(after, "backup.uploads_copy")[0].details["uncopied"] == 0

    # the upload is deleted (and its noncurrent versions would expire): restorable from the copy
    client.delete_object(Bucket=bucket, Key="avatars/a.png")
    assert "Contents" not in client.list_objects_v2(Bucket=bucket)
    uploads.restore_version(client, uploads.UploadsConfig(bucket=bucket), backup_bucket, "avatars/a.png", new)
    assert client.get_object(Bucket=bucket, Key="avatars/a.png")["Body"].read() == b"second picture"

    # within copy_every_hours nothing is copied again
    env(uploads={"bucket": bucket, "copy_every_hours": 4})
    soon = make_step("backup_incremental")
    bodies.copy_uploads(soon)
    assert soon.actions[0].status is ActionStatus.SKIPPED


def test_old_key_is_accepted_and_unset_is_not_configured(env, s3):
    bucket = f"up-{uuid.uuid4().hex[:8]}"
    s3.client().create_bucket(Bucket=bucket)
    env(uploads_bucket=bucket, uploads_noncurrent_days=30)
    from mercenary_maintenance.config import load_config

    assert load_config().backups.uploads == uploads.UploadsConfig(bucket=bucket, retention_days=30)

    env()
    off = make_step("maintenance_daily")
    bodies.check_uploads(off)
    assert [(f.check, f.severity, f.details.get("not_configured")) for f in off.findings] == [
        ("backup.uploads_versioning", Severity.OK, True), ("backup.uploads_copy", Severity.OK, True)]
    copy = make_step("backup_incremental")
    bodies.copy_uploads(copy)
    assert copy.actions[0].status is ActionStatus.SKIPPED
    assert copy.actions[0].details["not_configured"] is True
