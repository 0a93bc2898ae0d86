"""``security.credential_age`` (monthly): the plan's "rotate credentials" / "regular password rotation".

* AWS IAM access keys (CIS AWS Foundations 1.14: rotate every 90 days): an active key older
  than ``security.credential_max_age_days`` is critical; one unused for as long (or never
  used and that old) is a warning — deactivate it.
* PostgreSQL login roles whose password never expires (no ``VALID UNTIL``) or has expired,
  listed by role (warning); ``postgres.role_audit_allow`` roles are listed but not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from mercenary_maintenance.config import TimeoutsConfig
from mercenary_maintenance.findings import Finding, Severity

CHECK = "security.credential_age"
MAX_LISTED = 50


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    stamp: datetime = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)  # boto3 returns aware times; naive ones are UTC


def access_key_problems(keys: Iterable[Mapping[str, Any]], now: datetime, max_age_days: int) -> list[dict[str, Any]]:
    """Problems of active access keys: ``{user, key, age_days, last_used, problem, severity}``."""
    limit = timedelta(days=max_age_days)
    out: list[dict[str, Any]] = []
    for key in keys:
        if key.get("Status", "Active") != "Active":
            continue
        created = _aware(key["CreateDate"])
        assert created is not None
        used = _aware(key.get("LastUsedDate"))
        age = now - created
        idle_since = used or created
        item = {"user": key.get("UserName"), "key": _redact(str(key["AccessKeyId"])), "age_days": age.days,
                "created": created.isoformat(), "last_used": used.isoformat() if used else None}
        if age > limit:
            out.append({**item, "problem": f"older than {max_age_days} days", "severity": "critical"})
        elif now - idle_since > limit:
            out.append({**item, "problem": f"unused for more than {max_age_days} days", "severity": "warning"})
    return out


def _redact(key_id: str) -> str:
    """Key ids are not secrets, but only the tail is needed to find one.

    >>> _redact("AKIAIOSFODNN7EXAMPLE")
    '…EXAMPLE'
    """
    return "…" + key_id[-7:]


def aws_finding(target: str, keys_checked: int, problems: list[dict[str, Any]], max_age_days: int) -> Finding:
    worst = max((Severity.parse(p["severity"]) for p in problems), default=Severity.OK)
    listed = "; ".join(f"{p['user']} {p['key']} ({p['age_days']} d, {p['problem']})" for p in problems[:10])
    message = (f"{len(problems)} of {keys_checked} active access key(s) need rotation or removal: {listed}" if problems
               else f"{keys_checked} active access key(s), all younger than {max_age_days} days and in use")
    return Finding(CHECK, target, worst, message, value=len(problems), threshold=max_age_days,
                   details={"kind": "aws_access_keys", "keys": keys_checked, "problems": problems[:MAX_LISTED]})


def iam_access_keys(client: Any) -> list[dict[str, Any]]:
    """Every user's access keys with their last use, through an IAM client."""
    keys: list[dict[str, Any]] = []
    for page in client.get_paginator("list_users").paginate():
        for user in page.get("Users", []):
            for kp in client.get_paginator("list_access_keys").paginate(UserName=user["UserName"]):
                for meta in kp.get("AccessKeyMetadata", []):
                    last = client.get_access_key_last_used(AccessKeyId=meta["AccessKeyId"]).get("AccessKeyLastUsed", {})
                    keys.append({**meta, "LastUsedDate": last.get("LastUsedDate")})
    return keys


def iam_client(conn_id: str, timeouts: TimeoutsConfig) -> tuple[str, Any]:
    """(region, IAM client) of ``conn_id``, from the AWS adapter (bounded like S3)."""
    from mercenary_maintenance.adapters import s3

    client: Any = s3.iam_client(conn_id, timeouts=timeouts)
    return str(client.meta.region_name), client


def role_finding(target: str, rows: Sequence[Mapping[str, Any]], allow: Iterable[str]) -> Finding:
    allowed = set(allow)
    flagged = [{"role": r["role"], "superuser": bool(r["superuser"]),
                "valid_until": str(r["valid_until"]) if r["valid_until"] is not None else None,
                "problem": "password expired" if r["expired"] else "password never expires",
                "allowed": r["role"] in allowed}
               for r in rows if r["never_expires"] or r["expired"]]
    counted = [f for f in flagged if not f["allowed"]]
    severity = Severity.WARNING if counted else Severity.OK
    listed = ", ".join(f"{f['role']} ({f['problem']})" for f in counted[:10])
    message = (f"{len(counted)} of {len(rows)} login role(s) without password rotation: {listed}" if counted
               else f"{len(rows)} login role(s): every password has a VALID UNTIL in the future")
    return Finding(CHECK, target, severity, message, value=len(counted),
                   details={"kind": "postgres_roles", "login_roles": len(rows), "roles": flagged[:MAX_LISTED]})
