"""PostgreSQL maintenance actions: VACUUM (ANALYZE), ANALYZE, REINDEX INDEX CONCURRENTLY, VACUUM FULL.

Safety (docs/reliability.md): every statement runs in autocommit under ``statement_timeout`` =
``step.statement_timeout_s()`` (≤ time left in the window). Lock-taking statements go through
short lock attempts (:mod:`.lockretry`, ``postgres.lock_attempt_ms``), so application queries
queue behind maintenance for at most one attempt; a statement that never gets its lock within
its budget is recorded ``skipped`` plus a ``maintenance.skipped`` warning naming the blocker.
Before each statement the load guard (:mod:`.loadguard`) waits for a quiet target or skips with a
``postgres.load_guard`` warning. Manual VACUUM is throttled like autovacuum. Identifiers only
ever reach SQL through ``psycopg.sql.Identifier``; configured names are resolved against the
catalog first (``to_regclass`` with a bound value). Heavy work on one target is serialized with
:func:`mercenary_maintenance.pg.lock.target_lock`. With ``dry_run=True`` nothing changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.pg.lock import TargetBusy, target_lock
from mercenary_maintenance.pg.role import Standby, refuse_standby
from mercenary_maintenance.pg.session import Session, connect, millis, open_session
from mercenary_maintenance.postgres import fit, loadguard
from mercenary_maintenance.postgres.lockretry import (
    BuildWatch,
    lock_budget_s,
    relation_ids,
    run_concurrent_build,
    run_with_lock_attempts,
)
from mercenary_maintenance.redact import first_line
from mercenary_maintenance.skips import apply_guard, skipped_finding

if TYPE_CHECKING:
    from psycopg import sql

    from mercenary_maintenance.config import PostgresConfig
    from mercenary_maintenance.steps import ActionRecorder, Step

log = logging.getLogger(__name__)

VACUUM_ANALYZE = "postgres.vacuum_analyze"
ANALYZE = "postgres.analyze"
REINDEX = "postgres.reindex"
VACUUM_FULL = "postgres.vacuum_full"
TABLE_KINDS = ("r", "m", "p")


@dataclass(frozen=True)
class Relation:
    """A relation resolved in the catalog (names come from the server, not from the caller)."""

    schema: str
    name: str
    kind: str
    reason: str = "requested"

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"

    def ident(self) -> sql.Identifier:
        from psycopg import sql

        return sql.Identifier(self.schema, self.name)


def split_name(name: str) -> tuple[str, ...]:
    """``schema.table`` or a bare name; only the first dot separates the schema.

    >>> split_name("public.orders"), split_name("orders"), split_name('x"; DROP TABLE y; --')
    (('public', 'orders'), ('orders',), ('x"; DROP TABLE y; --',))
    """
    schema, dot, rel = name.partition(".")
    return (schema, rel) if dot and schema and rel else (name,)


def resolve(s: Session, name: str, reason: str = "requested") -> Relation:
    """Look a configured name up in the catalog; raise ``LookupError`` when it does not exist."""
    from psycopg import sql

    quoted = sql.Identifier(*split_name(name)).as_string(s.conn)
    row = s.conn.execute(
        "SELECT n.nspname, c.relname, c.relkind::text FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)",
        [quoted],
    ).fetchone()
    if row is None:
        raise LookupError(f"relation {name!r} does not exist")
    return Relation(str(row[0]), str(row[1]), str(row[2]), reason)


@contextmanager
def maintenance_session(step: Step, target: str, *, purpose: str, take_lock: bool = True) -> Iterator[Session]:
    """A session under the maintenance timeouts and VACUUM throttle, holding the target's lock
    unless dry-running."""
    cfg = step.cfg
    timeout = step.statement_timeout_s()
    with open_session(
        cfg.postgres_target(target),
        purpose=purpose,
        lock_timeout_s=cfg.postgres.lock_timeout_seconds,
        statement_timeout_s=timeout,
        budget=step.statement_timeout_s,
        timeouts=cfg.timeouts,
    ) as s:
        refuse_standby(s, target, cfg.postgres_target(target).primary)  # before the lock: it serializes nothing there
        throttle(s, cfg.postgres)
        if not take_lock:
            yield s
            return
        with target_lock(s.conn, min(cfg.postgres.target_lock_wait_seconds, timeout)):
            yield s


def throttle(s: Session, pg: PostgresConfig) -> None:
    """Manual VACUUM paced like autovacuum (cost delay/limit) with its own maintenance_work_mem."""
    s.conn.execute(
        "SELECT set_config('vacuum_cost_delay', %s, false), set_config('vacuum_cost_limit', %s, false), "
        "set_config('maintenance_work_mem', %s, false)",
        [f"{pg.vacuum_cost_delay_ms:g}ms", str(pg.vacuum_cost_limit), f"{pg.maintenance_work_mem_mb}MB"],
    )


@dataclass(frozen=True)
class LockPlan:
    """The table lock a statement takes, and whether it holds ACCESS EXCLUSIVE for its whole run."""

    mode: str
    exclusive: bool = False


SHARE_UPDATE_EXCLUSIVE = LockPlan("ShareUpdateExclusiveLock")
ACCESS_EXCLUSIVE = LockPlan("AccessExclusiveLock", exclusive=True)


def run_statement(
    step: Step, s: Session, act: ActionRecorder, statement: sql.SQL | sql.Composed, rel: Relation,
    plan: LockPlan, after_failed_attempt: Callable[[], None] | None = None,
) -> bool:
    """Execute one maintenance statement in short lock attempts; giving up is recorded ``skipped``
    plus a ``maintenance.skipped`` warning naming the blocker. True when done."""
    cfg = step.cfg.postgres
    started = time.monotonic()
    text = statement.as_string(s.conn)
    relids = relation_ids(s, rel.ident().as_string(s.conn))
    if plan.exclusive:  # the ACCESS EXCLUSIVE lock is held for the whole run: no cost-based pauses
        s.conn.execute("SELECT set_config('vacuum_cost_delay', '0', false)")
    try:
        outcome = run_with_lock_attempts(
            s, statement, relids=relids, mode=plan.mode, attempt_ms=cfg.lock_attempt_ms,
            budget_s=lock_budget_s(step), pause_cap_s=cfg.lock_retry_pause_max_ms / 1000,
            after_failed_attempt=after_failed_attempt,
        )
    finally:
        if plan.exclusive and not s.conn.closed:
            throttle(s, cfg)
    if not outcome.acquired:
        message = f"{rel.label}: lock {outcome.describe()}"
        act.skipped(message, statement=text, waited_s=round(outcome.elapsed_s, 3), **outcome.details())
        blocker = outcome.blocker.to_dict() if outcome.blocker else None
        step.add(skipped_finding(act.name, act.target, "lock", message, waited_s=outcome.elapsed_s,
                                 blocker=blocker, relation=rel.label))
        return False
    took = time.monotonic() - started - outcome.elapsed_s
    waited = float((act.details.get("load_guard") or {}).get("waited_s") or 0)
    quiet = f"; waited {waited:.0f} s for a quiet target first" if waited >= 1 else ""
    act.done(f"{text} done in {took:.2f}s (lock {outcome.describe()}{quiet})", statement=text, reason=rel.reason,
             **outcome.details())
    return True


def guard_allows(step: Step, s: Session, act: ActionRecorder, rel: Relation, plan: LockPlan) -> bool:
    """The load guard before a heavy statement; a busy target is recorded skipped + a warning."""
    relid = None
    if plan.exclusive:
        ids = relation_ids(s, rel.ident().as_string(s.conn))
        relid = ids[-1] if ids else None  # the table (an index's table comes last)
    return apply_guard(step, act, loadguard.check(step, s, relation=rel.label, relid=relid), loadguard.finding)


Selector = Callable[[Session, "Step"], list[Relation]]


def _standby(step: Step, action: str, target: str, exc: Standby) -> None:
    with step.action(action, target, why="role") as act:
        act.skipped(str(exc), primary=exc.primary)
    step.add(skipped_finding(action, target, "standby", str(exc), primary=exc.primary))


def _busy(step: Step, action: str, target: str, exc: TargetBusy) -> None:
    with step.action(action, target, why="per-target lock") as act:
        act.skipped(f"target busy: {exc}", waited_s=exc.waited_s, holder=exc.holder)
    step.add(skipped_finding(action, target, "target_busy", str(exc), waited_s=exc.waited_s, blocker=exc.holder))


@contextmanager
def setup_outcome(step: Step, action: str, target: str) -> Iterator[None]:
    """What stops ``action`` on ``target`` before or between its statements: a busy target or a
    standby is a skip (and a ``maintenance.skipped`` warning), any other error a failed action."""
    try:
        yield
    except TargetBusy as exc:
        _busy(step, action, target, exc)
    except Standby as exc:
        _standby(step, action, target, exc)
    except Exception as exc:
        log.exception("%s on %s could not run", action, target)
        with step.action(action, target, why="setup") as act:
            act.failed(first_line(exc))


def per_relation(
    step: Step,
    target: str,
    action: str,
    *,
    objects: Sequence[str] | None,
    select: Selector,
    expand: Callable[[Session, Relation], list[Relation]],
    build: Callable[[Relation], sql.SQL | sql.Composed],
    dry_run: bool,
    nothing: str,
    plan: LockPlan = SHARE_UPDATE_EXCLUSIVE,
    fits: Callable[[Step, Session, ActionRecorder, Relation], bool] | None = None,
) -> None:
    """``action`` on each relation ``select`` picks (or each of ``objects``, ``expand``ed), in one
    maintenance session: ``build(rel)`` under the fit, the load guard and short lock attempts."""
    with setup_outcome(step, action, target), \
            maintenance_session(step, target, purpose=action, take_lock=not dry_run) as s:
        chosen = (select(s, step) if objects is None
                  else [r for name in objects for r in expand(s, resolve(s, name))])
        if not chosen:
            with step.action(action, target, why="selection") as act:
                act.skipped(nothing)
            return
        for rel in chosen:
            with step.action(action, target, why=rel.reason, relation=rel.label, dry_run=dry_run) as act:
                act.details["relation"] = rel.label
                statement = build(rel)
                if dry_run:
                    message = f"would run {statement.as_string(s.conn)}"  # a log line, not SQL to run
                    act.dry_run(message, reason=rel.reason)
                    continue
                if fits is not None and not fits(step, s, act, rel):
                    continue
                if not guard_allows(step, s, act, rel, plan):
                    continue
                run_statement(step, s, act, statement, rel, plan)


# ----------------------------------------------------------------------------- VACUUM (ANALYZE)


def select_dead_tuple_tables(s: Session, step: Step) -> list[Relation]:
    cfg = step.cfg
    limit = cfg.thresholds.dead_tuple_percent.warning
    chosen = []
    for row in s.rows("dead_tuples"):
        dead, percent = int(row["dead_tuples"] or 0), float(row["dead_percent"] or 0)
        if cfg.postgres.vacuum_all_tables:
            chosen.append(Relation(row["schema"], row["table_name"], "r", "vacuum_all_tables"))
        elif dead >= cfg.postgres.min_dead_tuples and percent > limit:
            chosen.append(
                Relation(row["schema"], row["table_name"], "r", f"{dead} dead tuples ({percent:.1f}% > {limit:g}%)")
            )
    return chosen


def tables_only(s: Session, rel: Relation) -> list[Relation]:
    if rel.kind not in TABLE_KINDS:
        raise LookupError(f"{rel.label} is not a table (relkind {rel.kind!r})")
    return [rel]


def leaf_tables(s: Session, rel: Relation) -> list[Relation]:
    """A partitioned table as its leaf partitions (each rewritten, guarded and locked on its own:
    the parent has no storage and shows none of its partitions' traffic); other tables as they are."""
    tables_only(s, rel)
    if rel.kind != "p":
        return [rel]
    rows = s.conn.execute(
        "SELECT n.nspname, c.relname, c.relkind::text FROM pg_catalog.pg_partition_tree(to_regclass(%s)) p "
        "JOIN pg_catalog.pg_class c ON c.oid = p.relid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE p.isleaf AND c.relkind IN ('r', 'm') ORDER BY 1, 2",
        [rel.ident().as_string(s.conn)],
    ).fetchall()
    return [Relation(str(r[0]), str(r[1]), str(r[2]), f"partition of {rel.label}") for r in rows]


# ----------------------------------------------------------------------------- ANALYZE


def analyze(step: Step, target: str, objects: Sequence[str] | None = None, dry_run: bool = False) -> None:
    """``ANALYZE (SKIP_LOCKED)`` of tables modified since their last analyze (or ``objects``).

    ``SKIP_LOCKED`` never waits for a lock: tables that are locked are listed as skipped.
    """
    from psycopg import sql

    try:
        with maintenance_session(step, target, purpose=ANALYZE, take_lock=not dry_run) as s:
            if objects is None:
                rels = [
                    Relation(r["schema"], r["table_name"], "r")
                    for r in s.rows("dead_tuples")
                    if int(r["modified_since_analyze"] or 0) > 0
                    or (r["last_analyze"] is None and r["last_autoanalyze"] is None)
                ]
            else:
                rels = [t for name in objects for t in tables_only(s, resolve(s, name))]
            with step.action(ANALYZE, target, why="statistics", tables=len(rels), dry_run=dry_run) as act:
                if not rels:
                    act.skipped("statistics are current: no table modified since its last analyze")
                    return
                statement = sql.SQL("ANALYZE (SKIP_LOCKED) {}").format(sql.SQL(", ").join(r.ident() for r in rels))
                if dry_run:
                    message = f"would analyze {len(rels)} table(s)"
                    act.dry_run(message, tables=[r.label for r in rels][:50])
                    return
                skipped: list[str] = []

                def notice(diag: Any) -> None:
                    if "skipping analyze" in (diag.message_primary or ""):
                        skipped.append(diag.message_primary)

                s.conn.add_notice_handler(notice)
                started = time.monotonic()
                try:
                    s.execute(statement)
                finally:
                    s.conn.remove_notice_handler(notice)
                names = [r.label for r in rels]
                if skipped:  # never silent: a locked table's statistics stay stale
                    step.add(skipped_finding(ANALYZE, target, "lock", f"{len(skipped)} locked table(s) not analyzed "
                                             f"(SKIP_LOCKED): {'; '.join(skipped[:5])}", tables=skipped[:50]))
                if skipped and len(skipped) == len(rels):
                    act.skipped(f"every table was locked; analyzed none ({len(rels)} skipped)", skipped=skipped[:50])
                else:
                    act.done(
                        f"analyzed {len(rels) - len(skipped)} table(s) in {time.monotonic() - started:.2f}s"
                        + (f"; {len(skipped)} locked table(s) skipped" if skipped else ""),
                        tables=names[:50],
                        skipped=skipped[:50],
                    )
    except TargetBusy as exc:
        _busy(step, ANALYZE, target, exc)
    except Standby as exc:
        _standby(step, ANALYZE, target, exc)
    except Exception as exc:
        log.exception("%s on %s could not run", ANALYZE, target)
        with step.action(ANALYZE, target, why="setup") as act:
            act.failed(first_line(exc))


# ----------------------------------------------------------------------------- REINDEX CONCURRENTLY


def select_bloated_indexes(s: Session, step: Step) -> list[Relation]:
    cfg = step.cfg.postgres
    chosen = []
    for row in s.rows("bloat", {"min_bytes": cfg.reindex_min_bytes}):
        percent = row.get("bloat_percent")
        if row["kind"] == "index" and percent is not None and float(percent) >= cfg.reindex_min_bloat_percent:
            chosen.append(
                Relation(
                    row["schema"],
                    row["name"],
                    "i",
                    f"estimated bloat {float(percent):.1f}% >= {cfg.reindex_min_bloat_percent:g}%",
                )
            )
    return chosen


def indexes_of(s: Session, rel: Relation) -> list[Relation]:
    if rel.kind == "i":
        return [rel]
    if rel.kind not in TABLE_KINDS:
        raise LookupError(f"{rel.label} is neither an index nor a table (relkind {rel.kind!r})")
    rows = s.conn.execute(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE i.indrelid = to_regclass(%s) AND i.indisvalid ORDER BY 2",
        [rel.ident().as_string(s.conn)],
    ).fetchall()
    return [Relation(str(r[0]), str(r[1]), "i", f"index of {rel.label}") for r in rows]


class LeftoverStuck(RuntimeError):
    """An invalid leftover index could not be dropped within its bounded waits."""


def _drop_index(step: Step, s: Session, schema: str, name: str, table_oid: int) -> str:
    """Drop one invalid leftover index; how it was dropped, or :class:`LeftoverStuck`.

    ``DROP INDEX CONCURRENTLY`` first, each of its waits under ``lock_timeout`` =
    ``postgres.reindex_cleanup_wait_seconds`` (it waits for the same old transactions REINDEX
    does); when that runs out, a plain ``DROP INDEX`` (a catalog change: the index is invalid,
    no query uses it) in short lock attempts of ``lock_attempt_ms`` within ``lock_timeout_seconds``.
    """
    import psycopg
    from psycopg import sql

    cfg = step.cfg.postgres
    ident = sql.Identifier(schema, name)
    previous = s.conn.execute("SELECT current_setting('lock_timeout')").fetchone()
    try:
        s.conn.execute("SELECT set_config('lock_timeout', %s, false)", [millis(cfg.reindex_cleanup_wait_seconds)])
        s.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(ident))
        return "DROP INDEX CONCURRENTLY"
    except psycopg.OperationalError as exc:
        if s.conn.closed:
            raise
        concurrent_error = first_line(exc)
    finally:
        if not s.conn.closed:
            s.conn.execute("SELECT set_config('lock_timeout', %s, false)", [previous[0] if previous else "0"])
    outcome = run_with_lock_attempts(
        s, sql.SQL("DROP INDEX IF EXISTS {}").format(ident), relids=[table_oid], mode="AccessExclusiveLock",
        attempt_ms=cfg.lock_attempt_ms, budget_s=min(cfg.lock_timeout_seconds, step.statement_timeout_s()),
        pause_cap_s=cfg.lock_retry_pause_max_ms / 1000)
    if outcome.acquired:
        return f"DROP INDEX after DROP INDEX CONCURRENTLY failed ({concurrent_error}); lock {outcome.describe()}"
    raise LeftoverStuck(f"DROP INDEX CONCURRENTLY: {concurrent_error}; DROP INDEX: lock {outcome.describe()}")


def drop_leftovers(step: Step, s: Session, table_oid: int | None = None) -> list[dict[str, Any]]:
    """Find and drop invalid ``*_ccnew*`` / ``*_ccold*`` indexes (of ``table_oid``, or of the whole
    database), except those of a table another session is building an index on right now.

    One dict per leftover: ``index``, ``ready`` (a ready one is maintained on every write),
    ``size_bytes`` and ``dropped`` (how) or ``not_dropped`` (why)."""
    out: list[dict[str, Any]] = []
    for row in s.rows("reindex_leftovers", {"table_oid": table_oid}):
        item: dict[str, Any] = {"index": f"{row['schema']}.{row['index_name']}", "table": row["table_name"],
                                "ready": bool(row["ready"]), "size_bytes": int(row["size_bytes"] or 0)}
        if row["building_pids"]:
            item["not_dropped"] = f"an index build on its table is running (pid {row['building_pids']}): left alone"
        else:
            try:
                item["dropped"] = _drop_index(step, s, row["schema"], row["index_name"], int(row["table_oid"]))
            except (LeftoverStuck, OSError) as exc:
                item["not_dropped"] = str(exc)
            except Exception as exc:
                import psycopg

                if not isinstance(exc, psycopg.OperationalError) or s.conn.closed:
                    raise
                item["not_dropped"] = first_line(exc)
        out.append(item)
    return out


def _leftover_summary(items: list[dict[str, Any]]) -> str:
    """``dropped public.t_ccnew (ready, 8192 bytes); not dropped public.u_ccold: …``.

    >>> _leftover_summary([{"index": "public.t_ccnew", "ready": True, "size_bytes": 8192, "dropped": "DROP INDEX"},
    ...                    {"index": "public.u_ccold", "ready": False, "size_bytes": 0, "not_dropped": "busy"}])
    'dropped public.t_ccnew (ready, 8192 bytes); not dropped public.u_ccold (not ready, 0 bytes): busy'
    """
    parts = []
    for i in items:
        what = f"{i['index']} ({'ready' if i['ready'] else 'not ready'}, {i['size_bytes']} bytes)"
        parts.append(f"dropped {what}" if "dropped" in i else f"not dropped {what}: {i['not_dropped']}")
    return "; ".join(parts)


def preview_leftovers(step: Step, s: Session, target: str) -> None:
    """Dry run: the invalid leftovers of earlier runs a REINDEX would drop first (one dry-run action)."""
    leftovers = s.rows("reindex_leftovers", {"table_oid": None})
    if leftovers:
        with step.action(REINDEX, target, why="leftovers", dry_run=True) as act:
            act.dry_run(f"would drop {len(leftovers)} invalid leftover index(es)",
                        leftovers=[f"{r['schema']}.{r['index_name']}" for r in leftovers])


def report_leftovers(step: Step, target: str, items: list[dict[str, Any]], why: str) -> None:
    """Leftovers of earlier runs: one ``postgres.reindex`` action; each one not dropped is a warning."""
    if not items:
        return
    dropped = [i for i in items if "dropped" in i]
    with step.action(REINDEX, target, why=why) as act:
        message = f"invalid REINDEX CONCURRENTLY leftover(s) of earlier runs: {_leftover_summary(items)}"
        if dropped:
            act.done(message, leftovers=items)
        else:
            act.skipped(message, leftovers=items)
    for item in items:
        if "not_dropped" in item:
            step.add(skipped_finding(REINDEX, target, "lock", f"invalid leftover index {item['index']} not dropped "
                                     f"(drop it with DROP INDEX CONCURRENTLY): {item['not_dropped']}",
                                     relation=item["index"], leftover=item))


@contextmanager
def watch_connection(step: Step, target: str) -> Iterator[Any]:
    """The second connection that watches a REINDEX CONCURRENTLY (its polls bounded server-side)."""

    cfg = step.cfg
    conn = connect(cfg.postgres_target(target), "reindex watch", cfg.timeouts)
    try:
        conn.execute("SELECT set_config('statement_timeout', '5000ms', false), set_config('lock_timeout', '1000ms', "
                     "false)")
        yield conn
    finally:
        conn.close()


def _build_gave_up(step: Step, act: ActionRecorder, rel: Relation, builds: int, errors: list[str],
                   watch: BuildWatch) -> None:
    waits = [w for w in watch.waits if w.blockers]
    blocker = waits[-1].blockers[0] if waits else None
    by = f"; the last phase wait ({waits[-1].phase}) was for {blocker.describe()}" if waits and blocker else ""
    message = f"{rel.label}: gave up after {builds} build(s) (postgres.reindex_max_attempts " \
              f"{step.cfg.postgres.reindex_max_attempts}): {errors[-1]}{by}"
    act.skipped(message)
    step.add(skipped_finding(act.name, act.target, "lock", message, blocker=blocker.to_dict() if blocker else None,
                             relation=rel.label, builds=builds, errors=errors))


def reindex_one(step: Step, s: Session, watch_conn: Any, act: ActionRecorder, rel: Relation,
                statement: sql.Composed) -> None:
    """REINDEX INDEX CONCURRENTLY of one index: at most ``postgres.reindex_max_attempts`` builds, the
    load guard before each; the initial lock in short attempts, the phase waits under the deadline;
    this table's leftovers dropped after a failed build."""
    import psycopg

    cfg = step.cfg.postgres
    text = statement.as_string(s.conn)
    relids = relation_ids(s, rel.ident().as_string(s.conn))
    watch = BuildWatch(watch_conn, s.conn.info.backend_pid, s.version, cfg.lock_attempt_ms)
    cleanups: list[dict[str, Any]] = []

    def cleanup() -> None:
        cleanups.extend(drop_leftovers(step, s, relids[-1]))

    builds, errors = 0, []
    act.details.update(statement=text, reason=rel.reason, max_builds=cfg.reindex_max_attempts)
    while True:
        if not guard_allows(step, s, act, rel, SHARE_UPDATE_EXCLUSIVE):
            return
        started = time.monotonic()
        try:
            outcome = run_concurrent_build(
                s, statement, watch, relids=relids, mode="ShareUpdateExclusiveLock", attempt_ms=cfg.lock_attempt_ms,
                budget_s=lock_budget_s(step), pause_cap_s=cfg.lock_retry_pause_max_ms / 1000,
                after_failed_attempt=cleanup)
        except psycopg.OperationalError as exc:
            if s.conn.closed:
                raise
            builds += 1
            errors.append(first_line(exc))
            cleanup()
            act.details.update(builds=builds, build_errors=errors, cleanup=cleanups, **watch.details())
            if builds >= cfg.reindex_max_attempts or step.statement_timeout_s() <= 1.0:
                _build_gave_up(step, act, rel, builds, errors, watch)
                return
            continue
        except psycopg.Error:  # e.g. duplicate keys of a unique index: no retry, but no _ccnew left either
            cleanup()
            act.details.update(builds=builds + 1, cleanup=cleanups, **watch.details())
            raise
        act.details.update(cleanup=cleanups, **outcome.details(), **watch.details())
        if not outcome.acquired:
            message = f"{rel.label}: initial lock {outcome.describe()}"
            act.skipped(message, builds=builds, waited_s=round(outcome.elapsed_s, 3))
            step.add(skipped_finding(act.name, act.target, "lock", message, waited_s=outcome.elapsed_s,
                                     blocker=outcome.blocker.to_dict() if outcome.blocker else None,
                                     relation=rel.label))
            return
        builds += 1
        took = time.monotonic() - started - outcome.elapsed_s
        waited = sum(w.waited_s for w in watch.waits)
        phase_note = f", {waited:.1f} s of it in phase waits" if waited >= 0.1 else ""
        act.done(f"{text} done in {took:.2f}s{phase_note} (initial lock {outcome.describe()}; build {builds} of at "
                 f"most {cfg.reindex_max_attempts})", builds=builds)
        return


# ----------------------------------------------------------------------------- VACUUM FULL (opt-in)


def vacuum_full_fits(step: Step, s: Session, act: ActionRecorder, rel: Relation) -> bool:
    """VACUUM FULL's fit (time left, free space); one that does not fit is skipped with a warning
    naming why and the online way (pg_repack, PostgreSQL 19's REPACK CONCURRENTLY)."""
    relids = relation_ids(s, rel.ident().as_string(s.conn))
    result = fit.check(step, s, relids[-1], rel.label, act.target)
    act.details["fit"] = result.details()
    if not result.problems:
        return True
    message = f"{'; '.join(result.problems)}. {fit.online_hint(s, rel.label)}"
    act.skipped(f"does not fit: {message}")
    step.add(skipped_finding(act.name, act.target, "fit", message, relation=rel.label, fit=result.details()))
    return False
