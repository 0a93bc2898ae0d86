"""Shared set-up of the backup tests: a fresh bucket, the connections, and a config writer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any


def backup_env(pg: Any, s3: Any, source: str, write_config: Any, connections: Any,
               bucket_prefix: str) -> Callable[..., dict[str, Any]]:
    """Point maintenance_postgres at ``source`` and maintenance_s3 at a new bucket; return a
    function that (re)writes the config with extra ``backups`` keys (and a ``postgres`` section)."""
    bucket = f"{bucket_prefix}-{uuid.uuid4().hex[:10]}"
    s3.client().create_bucket(Bucket=bucket)
    connections({**pg.connection_env("maintenance_postgres", source), **s3.connection_env("maintenance_s3")})

    def configure(postgres: dict[str, Any] | None = None, **backups: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "targets": {"postgres": [{"name": "main", "conn_id": "maintenance_postgres"}], "redis": []},
            "backups": {"bucket": bucket, "part_size_mb": 5, **backups}}
        if postgres:
            data["postgres"] = postgres
        write_config(data)
        return data

    configure()
    return configure
