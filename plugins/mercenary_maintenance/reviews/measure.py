"""Live measurements for the reviews (thin: provider hooks, SQL from ``include/sql/reviews``).

Each function returns plain JSON-able data; what it means is decided in ``analysis``.
All queries are read-only and run under ``statement_timeout``.
"""

from __future__ import annotations

from typing import Any

from mercenary_maintenance import packaged
from mercenary_maintenance.adapters import postgres as pg_adapter
from mercenary_maintenance.adapters import redis as redis_adapter
from mercenary_maintenance.adapters import s3
from mercenary_maintenance.config import MaintenanceConfig
from mercenary_maintenance.redact import first_line, statement

TOP_TABLES = 15
TOP_QUERIES = 10


def load_sql(name: str) -> str:
    return packaged.sql_text("reviews", name)


def _rows(conn: Any, name: str, params: dict[str, Any] | None = None, **identifiers: str) -> list[dict[str, Any]]:
    from psycopg import sql
    from psycopg.rows import dict_row

    query: sql.Composable = sql.SQL(load_sql(name))
    if identifiers:
        query = sql.SQL(load_sql(name)).format(
            **{k: sql.Identifier(v) for k, v in identifiers.items()})
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return [dict(r) for r in cur.fetchall()]


def _connect(cfg: MaintenanceConfig, target: str) -> Any:
    conn: Any = pg_adapter.connect(cfg.postgres_target(target).conn_id, purpose="review", timeouts=cfg.timeouts)
    timeout_ms = str(int(cfg.postgres.check_statement_timeout_seconds * 1000))
    conn.execute("SELECT set_config('statement_timeout', %s, false)", [timeout_ms])
    return conn


def slow_queries(conn: Any) -> dict[str, Any]:
    """Top statements by mean time, or why there is no list (extension missing/not loaded)."""
    found = _rows(conn, "stat_statements_schema")
    if not found:
        return {"available": False, "why": "pg_stat_statements is not installed in this database", "top": []}
    try:
        top = _rows(conn, "slow_queries", {"min_calls": 1, "limit": TOP_QUERIES}, schema=found[0]["schema"])
    except Exception as exc:  # e.g. not in shared_preload_libraries: say so in the review
        return {"available": False, "why": first_line(exc, typed=False), "top": []}
    for row in top:
        row["query"] = statement(str(row["query"]))
        row["mean_ms"], row["total_ms"] = float(row["mean_ms"]), float(row["total_ms"])
    return {"available": True, "why": None, "top": top}


def postgres_snapshot(cfg: MaintenanceConfig, target: str) -> dict[str, Any]:
    conn = _connect(cfg, target)
    try:
        roles = _rows(conn, "roles")
        grants: dict[str, list[str]] = {}
        for row in _rows(conn, "grants"):
            grants.setdefault(row["grantee"], []).append(row["privilege"])
        return {
            "databases": {r["name"]: int(r["bytes"]) for r in _rows(conn, "database_sizes")},
            "tables": {r["name"]: int(r["bytes"]) for r in _rows(conn, "table_sizes", {"limit": TOP_TABLES})},
            "slow_queries": slow_queries(conn),
            "roles": {r.pop("name"): {**r, "member_of": sorted(r["member_of"] or [])} for r in roles},
            "grants": {k: sorted(set(v)) for k, v in grants.items()},
        }
    finally:
        conn.close()


def redis_snapshot(cfg: MaintenanceConfig, target: str) -> dict[str, Any]:
    client = redis_adapter.connect(cfg.redis_target(target).conn_id, timeouts=cfg.timeouts)
    info = client.info("memory")
    keyspace = client.info("keyspace")
    return {
        "used_memory": int(info.get("used_memory", 0)),
        "used_memory_peak": int(info.get("used_memory_peak", 0)),
        "maxmemory": int(info.get("maxmemory", 0)),
        "keys": sum(int(db.get("keys", 0)) for db in keyspace.values() if isinstance(db, dict)),
    }


def backup_storage(cfg: MaintenanceConfig) -> dict[str, Any]:
    """Bytes and objects under ``s3://<backups.bucket>/<backups.prefix>/``."""

    client = s3.client(cfg.backups.conn_id, timeouts=cfg.timeouts)
    total = count = 0
    prefix = cfg.backups.prefix.strip("/") + "/"
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=cfg.backups.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            total += int(obj["Size"])
            count += 1
    return {"bytes": total, "objects": count, "location": f"s3://{cfg.backups.bucket}/{prefix}"}
