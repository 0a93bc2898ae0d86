"""Encryption at rest of what we store: the upload arguments, and ``backup.encryption``.

Backups hold every row of the database. ``backups.server_side_encryption`` asks S3 to encrypt
every object we write (``AES256`` = SSE-S3, ``aws:kms`` = SSE-KMS with ``kms_key_id`` or the
bucket's default key); left empty, the bucket's default encryption decides (AWS encrypts new
objects with SSE-S3 by default since 2023; MinIO or Ceph may not). The daily check reads
what S3 says of the newest backup's data object (one HEAD): encrypted is ok, unencrypted is a
warning, and anything other than what the config asks for is critical.
"""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.adapters.s3 import upload_args as upload_args  # the area's callers use it from here
from mercenary_maintenance.findings import Finding, Severity

CHECK = "backup.encryption"


def encryption(target: str, kind: str, key: str, head: dict[str, Any], wanted: str | None) -> Finding:
    """Verdict on one stored object from its HEAD response.

    >>> encryption("main", "full", "k", {"ServerSideEncryption": "AES256"}, None).severity.label
    'ok'
    >>> encryption("main", "full", "k", {}, None).severity.label
    'warning'
    >>> encryption("main", "full", "k", {"ServerSideEncryption": "AES256"}, "aws:kms").message
    'k: stored with AES256, the config asks for aws:kms'
    """
    got = head.get("ServerSideEncryption")
    details = {"kind": kind, "key": key, "server_side_encryption": got, "wanted": wanted,
               "kms_key_id": head.get("SSEKMSKeyId")}
    if got is None and wanted is None:
        return Finding(CHECK, target, Severity.WARNING,
                       f"{key}: stored without server-side encryption (set backups.server_side_encryption "
                       "or the bucket's default encryption)", details=details)
    if wanted is not None and got != wanted:
        return Finding(CHECK, target, Severity.CRITICAL,
                       f"{key}: stored {'with ' + got if got else 'unencrypted'}, the config asks for {wanted}",
                       details=details)
    return Finding(CHECK, target, Severity.OK, f"{key}: encrypted at rest ({got})", details=details)
