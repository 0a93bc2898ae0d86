"""Monthly security checks on real servers: IAM access keys in moto, login roles in PostgreSQL,
security-group snapshots in moto EC2."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mercenary_dev import servers

from mercenary_maintenance.security import bodies
from mercenary_maintenance.steps import StepFailed, execute_step


def context(run_id: str) -> dict[str, Any]:
    dag_run = SimpleNamespace(dag_id="maintenance_monthly", run_id=run_id, run_type="manual", logical_date=None,
                              triggering_user_name=None, data_interval_start=None, data_interval_end=None)
    return {"dag_run": dag_run, "ti": SimpleNamespace(task_id="security.check", map_index=-1, try_number=1),
            "params": {}}


def run_body(body: Callable[..., None], tmp_path: Path, run_id: str) -> tuple[dict[tuple[str, str], Any], str | None]:
    error = None
    try:
        execute_step(body, context=context(run_id))
    except StepFailed as exc:
        error = str(exc)
    folder = tmp_path / "reports" / "maintenance_monthly" / run_id / "parts"
    part = json.loads(next(folder.glob("*.json")).read_text())
    return {(f["check"], f["target"]): f for f in part["findings"]}, error


def aws(s3: servers.S3Server, service: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=s3.endpoint, region_name=s3.region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_access_key_age_in_moto_iam_and_roles_without_valid_until(s3, pg, write_config, connections, tmp_path):
    iam = aws(s3, "iam")
    iam.create_user(UserName="deployer")
    key = iam.create_access_key(UserName="deployer")["AccessKey"]["AccessKeyId"]
    db = pg.create_database("cred_age")
    pg.execute("CREATE ROLE app_forever LOGIN PASSWORD 'x-never-expires'")
    pg.execute("CREATE ROLE app_rotated LOGIN PASSWORD 'x-rotated' VALID UNTIL '2999-01-01'")
    pg.execute("CREATE ROLE app_expired LOGIN PASSWORD 'x-expired' VALID UNTIL '2001-01-01'")
    pg.execute("CREATE ROLE nologin_group NOLOGIN")
    try:
        connections({**s3.connection_env("maintenance_aws"), **pg.connection_env("pg_main", db)})
        write_config({"security": {"aws_conn_id": "maintenance_aws"},
                      "postgres": {"role_audit_allow": [pg.user]},
                      "targets": {"postgres": [{"name": "main", "conn_id": "pg_main"}], "redis": []}})
        # Today the key is fresh (moto cannot backdate CreateDate: the clock is moved instead).
        found, error = run_body(bodies.credential_age_body, tmp_path, "now")
        assert error is None
        aws_now = found[("security.credential_age", f"aws:{s3.region}")]
        assert aws_now["severity"] == "ok", aws_now
        assert aws_now["details"]["keys"] >= 1
        roles = found[("security.credential_age", "postgres:main")]
        flagged = {r["role"]: r["problem"] for r in roles["details"]["roles"]
                   if not r["allowed"] and r["role"].startswith("app_")}  # the cluster is shared by tests
        assert flagged == {"app_forever": "password never expires", "app_expired": "password expired"}
        assert roles["severity"] == "warning"
        assert "x-never-expires" not in json.dumps(list(found.values()))

        # 120 days later the same key, never used, is past the 90-day rotation.
        later = partial(bodies.credential_age_body, now=lambda: datetime.now(UTC) + timedelta(days=120))
        found, _ = run_body(later, tmp_path, "later")
        aws_later = found[("security.credential_age", f"aws:{s3.region}")]
        assert aws_later["severity"] == "critical"
        problem = next(p for p in aws_later["details"]["problems"] if p["user"] == "deployer")
        assert problem["key"] == "…" + key[-7:]
        assert problem["age_days"] >= 119
        assert problem["problem"] == "older than 90 days"
        assert key not in json.dumps(aws_later)  # only the tail of the key id
    finally:
        for role in ("app_forever", "app_rotated", "app_expired", "nologin_group"):
            pg.execute(f"DROP ROLE IF EXISTS {role}")
        iam.delete_access_key(UserName="deployer", AccessKeyId=key)
        iam.delete_user(UserName="deployer")


def test_credential_age_without_aws_account_says_so(write_config, tmp_path):
    write_config({"targets": {"postgres": [], "redis": []}})
    found, error = run_body(bodies.credential_age_body, tmp_path, "r1")
    assert error is None
    assert found[("security.credential_age", "aws")]["details"]["not_configured"] is True


def test_firewall_changes_between_two_monthly_runs(s3, write_config, connections, tmp_path):
    ec2 = aws(s3, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    db = ec2.create_security_group(GroupName="db-fw", Description="db", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.7.0.0/16"}]}])
    try:
        connections(s3.connection_env("maintenance_aws"))
        write_config({"security": {"aws_conn_id": "maintenance_aws"}})
        found, error = run_body(bodies.firewall_changes_body, tmp_path, "m1")
        assert error is None
        first = found[("security.firewall_changes", f"aws:{s3.region}")]
        assert first["severity"] == "ok"
        assert first["details"]["baseline"] is True

        found, _ = run_body(bodies.firewall_changes_body, tmp_path, "m2")  # nothing changed
        same = found[("security.firewall_changes", f"aws:{s3.region}")]
        assert (same["severity"], same["value"]) == ("ok", 0)

        # Between two monthly runs someone opens SSH to the world and narrows the database rule.
        ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        ec2.revoke_security_group_ingress(GroupId=db, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.7.0.0/16"}]}])
        found, _ = run_body(bodies.firewall_changes_body, tmp_path, "m3")
        changed = found[("security.firewall_changes", f"aws:{s3.region}")]
        assert changed["severity"] == "critical"
        mine = [(c["change"], c.get("rule"), c["severity"]) for c in changed["details"]["changes"]
                if c.get("group_id") == db]
        assert mine == [("rule added", "tcp/22 from 0.0.0.0/0", "critical"),
                        ("rule removed", "tcp/5432 from 10.7.0.0/16", "warning")]
        assert f"{db} (db-fw) rule added tcp/22 from 0.0.0.0/0" in changed["message"]
        snapshots = sorted((tmp_path / "reports" / "state" / bodies.FIREWALL_STATE).glob("*.json"))
        assert len(snapshots) == 3  # every review's snapshot is kept
    finally:
        ec2.delete_security_group(GroupId=db)
