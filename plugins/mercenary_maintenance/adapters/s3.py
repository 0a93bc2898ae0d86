"""AWS clients (S3, and EC2 for the security-group review): the only place ``S3Hook``,
``EC2Hook`` (or ``boto3.client``) is used.

botocore's defaults are 60 s connect and 60 s read with legacy retries (up to 5 attempts, so a
black-holed endpoint costs minutes per call); ours come from ``timeouts.s3`` with the
"standard" retry mode. ``config_kwargs`` in the Airflow connection's extras still apply and win
(the hook would otherwise ignore them once we pass a config).
"""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.config import BackupsConfig, TimeoutsConfig


def botocore_config(conn_id: str | None, timeouts: TimeoutsConfig) -> Any:
    from botocore.config import Config

    t = timeouts.s3
    ours: dict[str, Any] = {"connect_timeout": t.connect_s, "read_timeout": t.read_s,
                            "retries": {"mode": "standard", "max_attempts": t.max_attempts}}
    theirs: dict[str, Any] = {}
    if conn_id:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        theirs = dict(AwsBaseHook.get_connection(conn_id).extra_dejson.get("config_kwargs") or {})
    return Config(**{**ours, **theirs})


def hook(conn_id: str | None, *, timeouts: TimeoutsConfig) -> Any:
    """An ``S3Hook`` whose clients carry the bounds (for code that wants the hook's helpers)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=conn_id, config=botocore_config(conn_id, timeouts))


def ec2_client(conn_id: str, *, timeouts: TimeoutsConfig) -> Any:
    """A boto3 EC2 client (security-group review) with the same bounds as S3's."""
    from airflow.providers.amazon.aws.hooks.ec2 import EC2Hook

    return EC2Hook(aws_conn_id=conn_id, api_type="client_type", config=botocore_config(conn_id, timeouts)).conn


def security_groups(conn_id: str, *, timeouts: TimeoutsConfig) -> tuple[str, list[dict[str, Any]]]:
    """(region, every security group) of the account, page by page (health's audit, security's review)."""
    client = ec2_client(conn_id, timeouts=timeouts)
    groups: list[dict[str, Any]] = []
    for page in client.get_paginator("describe_security_groups").paginate():
        groups.extend(page.get("SecurityGroups", []))
    return str(client.meta.region_name), groups


def iam_client(conn_id: str, *, timeouts: TimeoutsConfig) -> Any:
    """A boto3 IAM client (credential-age review) with the same bounds as S3's."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id=conn_id, client_type="iam", config=botocore_config(conn_id, timeouts)).get_conn()


def client(conn_id: str | None, *, timeouts: TimeoutsConfig) -> Any:
    """A boto3 S3 client of the ``aws`` connection ``conn_id`` (endpoint/region from its extras;
    ``None``: boto3's default credential chain, as ``S3Hook`` does)."""
    return hook(conn_id, timeouts=timeouts).get_conn()


def upload_args(cfg: BackupsConfig) -> dict[str, str]:
    """Extra arguments of ``put_object``/``create_multipart_upload``/``upload_file``.

    >>> upload_args(BackupsConfig())
    {'ServerSideEncryption': 'AES256'}
    >>> upload_args(BackupsConfig(server_side_encryption=None))
    {}
    >>> upload_args(BackupsConfig(server_side_encryption="aws:kms", kms_key_id="alias/backups"))
    {'ServerSideEncryption': 'aws:kms', 'SSEKMSKeyId': 'alias/backups'}
    """
    if cfg.server_side_encryption is None:
        return {}
    args: dict[str, str] = {"ServerSideEncryption": cfg.server_side_encryption}
    if cfg.kms_key_id:
        args["SSEKMSKeyId"] = cfg.kms_key_id
    return args
