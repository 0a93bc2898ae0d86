"""The preview's read-only look at a PostgreSQL target: what the next window's actions would
select, with figures.

The selection is the actions' own (``select_dead_tuple_tables``, ``select_bloated_indexes``,
the target's ``vacuum_full_tables``), run in a session with ``default_transaction_read_only``
on and the check timeouts, and without the target's maintenance lock: the preview never
changes or blocks anything. The preview area receives :func:`probe` from the wiring
(``registry.PROBES``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mercenary_maintenance.plan import PostgresProbe, TargetState

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def _load_limits(step: Step) -> tuple[int, float]:
    # postgres.load_guard's session limit; replication lag: the threshold's warning level.
    guard = step.cfg.postgres.load_guard
    return guard.max_active_sessions, float(step.cfg.thresholds.replication_lag_bytes.warning)


def probe(step: Step, target: str) -> PostgresProbe:
    """What the postgres actions would select on ``target`` now (read-only session)."""
    from mercenary_maintenance.pg.session import open_session
    from mercenary_maintenance.postgres import actions

    cfg = step.cfg
    out = PostgresProbe()
    with open_session(cfg.postgres_target(target), purpose="preview", lock_timeout_s=cfg.postgres.lock_timeout_seconds,
                      statement_timeout_s=cfg.postgres.check_statement_timeout_seconds, timeouts=cfg.timeouts) as s:
        s.conn.execute("SELECT set_config('default_transaction_read_only', 'on', false)")
        dead = {f"{r['schema']}.{r['table_name']}": r for r in s.rows("dead_tuples")}
        vac = actions.select_dead_tuple_tables(s, step)
        bloat = {f"{r['schema']}.{r['name']}": r for r in s.rows("bloat", {"min_bytes": cfg.postgres.reindex_min_bytes})
                 if r["kind"] == "index"}
        idx = actions.select_bloated_indexes(s, step)
        full = []
        for name in cfg.postgres_target(target).vacuum_full_tables:
            try:
                full.append(actions.resolve(s, name).label)
            except LookupError as exc:
                out.vacuum_full.append({"object": name, "size_bytes": 0, "error": str(exc)})
        labels = [r.label for r in vac] + [r.label for r in idx] + full
        sizes = {f"{r['schema']}.{r['name']}": r for r in s.rows("preview_sizes", {"labels": labels})}
        activity = s.rows("preview_activity")[0]
        lags = [float(r["lag_bytes"]) for r in s.rows("replication") if r.get("lag_bytes") is not None]
    for rel in vac:
        row = dead.get(rel.label, {})
        out.vacuum.append({"object": rel.label, "dead_tuples": int(row.get("dead_tuples") or 0),
                           "dead_percent": round(float(row.get("dead_percent") or 0.0), 1),
                           "size_bytes": int(sizes.get(rel.label, {}).get("size_bytes") or 0), "reason": rel.reason})
    for rel in idx:
        row = bloat.get(rel.label, {})
        out.reindex.append({"object": rel.label, "table": row.get("table_name"),
                            "bloat_percent": row.get("bloat_percent"),
                            "wasted_bytes": int(row.get("wasted_bytes") or 0),
                            "size_bytes": int(sizes.get(rel.label, {}).get("size_bytes") or 0), "reason": rel.reason})
    for label in full:
        size = sizes.get(label, {})
        out.vacuum_full.append({"object": label, "size_bytes": int(size.get("size_bytes") or 0),
                                "total_bytes": int(size.get("total_bytes") or 0)})
    max_active, max_lag = _load_limits(step)
    out.database_bytes = int(activity["database_bytes"] or 0)
    out.state = TargetState(active_sessions=int(activity["active_sessions"] or 0),
                            replication_lag_bytes=max(lags) if lags else None,
                            max_active_sessions=max_active, max_lag_bytes=max_lag)
    return out
