"""PostgreSQL maintenance actions: VACUUM (ANALYZE), ANALYZE, REINDEX INDEX CONCURRENTLY, VACUUM FULL.

Safety (DESIGN §7): every statement runs in autocommit under ``lock_timeout`` (config) and
``statement_timeout`` = ``step.statement_timeout_s()`` (≤ time left in the window). A statement
that cannot get its lock in time is cancelled by the server and recorded ``skipped`` with the
reason, so application queries queued behind it wait at most ``lock_timeout``. Identifiers only
ever reach SQL through ``psycopg.sql.Identifier``; configured names are resolved against the
catalog first (``to_regclass`` with a bound value). Heavy work on one target is serialized with
:func:`mercenary_maintenance.postgres.lock.target_lock`. With ``dry_run=True`` nothing changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.postgres.lock import TargetBusy, target_lock
from mercenary_maintenance.postgres.session import Session, open_session
from mercenary_maintenance.runner import mask

if TYPE_CHECKING:
    from psycopg import sql

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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return mask(text.splitlines()[0]) if text else type(exc).__name__


@contextmanager
def maintenance_session(step: Step, target: str, *, purpose: str, take_lock: bool = True) -> Iterator[Session]:
    """A session under the maintenance timeouts, holding the target's lock unless dry-running."""
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
        if not take_lock:
            yield s
            return
        with target_lock(s.conn, min(cfg.postgres.target_lock_wait_seconds, timeout)):
            yield s


def run_statement(
    s: Session, act: ActionRecorder, statement: sql.SQL | sql.Composed, rel: Relation, lock_timeout_s: float
) -> bool:
    """Execute one maintenance statement; a lock timeout is recorded ``skipped``. True when done."""
    import psycopg

    started = time.monotonic()
    text = statement.as_string(s.conn)
    try:
        s.execute(statement)
    except psycopg.errors.LockNotAvailable as exc:
        act.skipped(
            f"{rel.label}: could not get its lock within lock_timeout={lock_timeout_s:g}s, gave up "
            f"({_first_line(exc)})",
            statement=text,
            waited_s=round(time.monotonic() - started, 3),
        )
        return False
    act.done(f"{text} done in {time.monotonic() - started:.2f}s", statement=text, reason=rel.reason)
    return True


def _cleanup(fn: Callable[[Session, Relation, set[str]], str], s: Session, rel: Relation, known: set[str]) -> str:
    try:
        return fn(s, rel, known)
    except Exception as exc:  # reported in the action's details; the action is already not done
        log.exception("cleanup after %s failed", rel.label)
        return f"cleanup failed: {type(exc).__name__}: {_first_line(exc)}"


Selector = Callable[[Session, "Step"], list[Relation]]


def _per_relation(
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
    after_failure: Callable[[Session, Relation, set[str]], str] | None = None,
    before: Callable[[Session, Relation], set[str]] | None = None,
) -> None:
    lock_timeout = step.cfg.postgres.lock_timeout_seconds
    try:
        with maintenance_session(step, target, purpose=action, take_lock=not dry_run) as s:
            if objects is None:
                chosen = select(s, step)
            else:
                chosen = [r for name in objects for r in expand(s, resolve(s, name))]
            if not chosen:
                with step.action(action, target, why="selection") as act:
                    act.skipped(nothing)
                return
            for rel in chosen:
                with step.action(action, target, why=rel.reason, relation=rel.label, dry_run=dry_run) as act:
                    statement = build(rel)
                    if dry_run:
                        message = f"would run {statement.as_string(s.conn)}"  # a log line, not SQL to run
                        act.dry_run(message, reason=rel.reason)
                        continue
                    known = before(s, rel) if before else set()
                    ok = False
                    try:
                        ok = run_statement(s, act, statement, rel, lock_timeout)
                    finally:
                        if after_failure is not None and not ok:
                            act.details["cleanup"] = _cleanup(after_failure, s, rel, known)
    except TargetBusy as exc:
        with step.action(action, target, why="per-target lock") as act:
            act.skipped(f"target busy: {exc}")
    except Exception as exc:
        log.exception("%s on %s could not run", action, target)
        with step.action(action, target, why="setup") as act:
            act.failed(f"{type(exc).__name__}: {_first_line(exc)}")


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


def _tables_only(s: Session, rel: Relation) -> list[Relation]:
    if rel.kind not in TABLE_KINDS:
        raise LookupError(f"{rel.label} is not a table (relkind {rel.kind!r})")
    return [rel]


def vacuum_analyze(step: Step, target: str, objects: Sequence[str] | None = None, dry_run: bool = False) -> None:
    """``VACUUM (ANALYZE)`` of the given tables, or of those above the dead-tuple threshold."""
    from psycopg import sql

    _per_relation(
        step,
        target,
        VACUUM_ANALYZE,
        objects=objects,
        select=select_dead_tuple_tables,
        expand=_tables_only,
        build=lambda r: sql.SQL("VACUUM (ANALYZE) {}").format(r.ident()),
        dry_run=dry_run,
        nothing="no table above the dead-tuple threshold; nothing to vacuum",
    )


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
                rels = [t for name in objects for t in _tables_only(s, resolve(s, name))]
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
        with step.action(ANALYZE, target, why="per-target lock") as act:
            act.skipped(f"target busy: {exc}")
    except Exception as exc:
        log.exception("%s on %s could not run", ANALYZE, target)
        with step.action(ANALYZE, target, why="setup") as act:
            act.failed(f"{type(exc).__name__}: {_first_line(exc)}")


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


def _indexes_of(s: Session, rel: Relation) -> list[Relation]:
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


def _invalid_ccnew(s: Session, rel: Relation) -> set[str]:
    """Invalid leftovers of REINDEX CONCURRENTLY (``*_ccnew*``) on the index's table."""
    rows = s.conn.execute(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_catalog.pg_index i "
        "JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT i.indisvalid AND c.relname LIKE '%%\\_ccnew%%' AND i.indrelid = "
        "(SELECT indrelid FROM pg_catalog.pg_index WHERE indexrelid = to_regclass(%s))",
        [rel.ident().as_string(s.conn)],
    ).fetchall()
    return {str(r[0]) for r in rows}


def _drop_leftovers(s: Session, rel: Relation, known: set[str]) -> str:
    """A cancelled REINDEX CONCURRENTLY leaves an invalid ``_ccnew`` index: drop only ours."""
    from psycopg import sql

    new = sorted(_invalid_ccnew(s, rel) - known)
    dropped = []
    for qualified in new:
        row = s.conn.execute(
            "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)",
            [qualified],
        ).fetchone()
        if row is None:
            continue
        ident = sql.Identifier(str(row[0]), str(row[1]))
        try:
            s.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(ident))
        except Exception:
            # DROP INDEX CONCURRENTLY waits for the same old snapshots; a plain DROP of an
            # invalid index needs only a brief lock (still bounded by lock_timeout).
            s.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(ident))
        dropped.append(qualified)
    return f"dropped invalid leftover index(es) {dropped}" if dropped else "no leftover index"


def reindex(step: Step, target: str, objects: Sequence[str] | None = None, dry_run: bool = False) -> None:
    """``REINDEX INDEX CONCURRENTLY`` of the given indexes (or tables' indexes), or of bloated ones."""
    from psycopg import sql

    _per_relation(
        step,
        target,
        REINDEX,
        objects=objects,
        select=select_bloated_indexes,
        expand=_indexes_of,
        build=lambda r: sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(r.ident()),
        dry_run=dry_run,
        nothing="no index above the bloat threshold; nothing to rebuild",
        before=_invalid_ccnew,
        after_failure=_drop_leftovers,
    )


# ----------------------------------------------------------------------------- VACUUM FULL (opt-in)


def vacuum_full(step: Step, target: str, objects: Sequence[str] | None = None, dry_run: bool = False) -> None:
    """``VACUUM (FULL, ANALYZE)`` — only for ``objects`` or the target's ``vacuum_full_tables`` (opt-in)."""
    from psycopg import sql

    names = list(objects) if objects is not None else list(step.cfg.postgres_target(target).vacuum_full_tables)
    if not names:
        with step.action(VACUUM_FULL, target, why="opt-in") as act:
            act.skipped("opt-in: no table listed in this target's vacuum_full_tables")
        return
    _per_relation(
        step,
        target,
        VACUUM_FULL,
        objects=names,
        select=lambda s, st: [],
        expand=_tables_only,
        build=lambda r: sql.SQL("VACUUM (FULL, ANALYZE) {}").format(r.ident()),
        dry_run=dry_run,
        nothing="nothing to do",
    )
