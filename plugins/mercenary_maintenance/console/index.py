"""An incremental SQLite cache of run summaries, so the console never reads every report.

The report store keeps a journal of run summaries (``_index/<finished stamp>__…json``,
written by ``ReportStore.write_report``). :meth:`RunIndex.refresh` lists the journal
after the last entry it has seen (S3 ``StartAfter``; one directory read on file://),
minus a small overlap for writers whose clocks lag, reads only the new entries and folds
them into a few tables: the runs, the latest result of each check per target, the last
state of each task, backup and restore-test events, and the trend points. The first
refresh of an empty cache also reads the runs written before summaries existed (their
report.json) once.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mercenary_maintenance.findings import Severity
from mercenary_maintenance.report.store import ReportStore
from mercenary_maintenance.report.summary import INDEX_PREFIX

SCHEMA_VERSION = "1"
# Journal entries stamped up to this long before the newest one seen are listed again: a
# writer whose clock lags (or whose write took long) still lands in the cache.
OVERLAP = timedelta(minutes=15)
FETCH_THREADS = 16
EVENT_ACTIONS = ("backup.full", "backup.incremental", "backup.restore_test")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS runs (
    dag_id TEXT NOT NULL, run_id TEXT NOT NULL, run_type TEXT, status TEXT,
    started_at TEXT, finished_at TEXT, ts REAL NOT NULL, summary TEXT NOT NULL,
    PRIMARY KEY (dag_id, run_id));
CREATE INDEX IF NOT EXISTS runs_by_dag_ts ON runs (dag_id, ts);
CREATE TABLE IF NOT EXISTS latest (
    check_name TEXT NOT NULL, target TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
    rank INTEGER NOT NULL, message TEXT, value REAL, dag_id TEXT NOT NULL, run_id TEXT NOT NULL, ts REAL NOT NULL,
    PRIMARY KEY (check_name, target, kind));
CREATE TABLE IF NOT EXISTS task_last (
    dag_id TEXT NOT NULL, task_id TEXT NOT NULL, run_id TEXT NOT NULL, state TEXT NOT NULL, ts REAL NOT NULL,
    PRIMARY KEY (dag_id, task_id));
CREATE TABLE IF NOT EXISTS events (
    action TEXT NOT NULL, target TEXT NOT NULL, ok INTEGER NOT NULL, duration_s REAL,
    dag_id TEXT NOT NULL, run_id TEXT NOT NULL, ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_action ON events (action, target, ts);
CREATE INDEX IF NOT EXISTS events_by_run ON events (dag_id, run_id);
CREATE TABLE IF NOT EXISTS points (
    series TEXT NOT NULL, target TEXT NOT NULL, label TEXT NOT NULL, value REAL NOT NULL,
    dag_id TEXT NOT NULL, run_id TEXT NOT NULL, ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS points_by_series ON points (series, ts);
CREATE INDEX IF NOT EXISTS points_by_run ON points (dag_id, run_id);
"""


def parse_ts(value: Any) -> float | None:
    """Epoch seconds of an ISO-8601 string (naive means UTC), None when absent or invalid."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _stamp_key(moment: datetime) -> str:
    return f"{INDEX_PREFIX}{moment.astimezone(UTC).strftime('%Y%m%dT%H%M%S%f')}"


def _key_time(key: str) -> datetime | None:
    stamp = key.removeprefix(INDEX_PREFIX).split("__", 1)[0]
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
    except ValueError:
        return None


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "mercenary-maintenance" / "console"


@dataclass
class RefreshStats:
    listed: int = 0
    ingested: int = 0
    legacy: int = 0
    seconds: float = 0.0
    skipped: bool = False


class RunIndex:
    """The cache of one report store (one SQLite file per store URL)."""

    _locks: dict[str, threading.Lock] = {}  # noqa: RUF012 - one lock per cache file in this process

    def __init__(self, store: ReportStore, source: str, cache_dir: Path | None = None,
                 refresh_seconds: float = 5.0) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        # The DAGs whose runs the queries see (None: all); see :meth:`scoped`.
        self.dags: frozenset[str] | None = None
        folder = cache_dir or default_cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(source.encode()).hexdigest()[:16]
        self.path = folder / f"runs-{digest}.sqlite"
        self._lock = self._locks.setdefault(str(self.path), threading.Lock())
        with self.connect() as db:
            db.executescript(_SCHEMA)
            version = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if version is None:
                db.execute("INSERT INTO meta VALUES ('schema', ?), ('source', ?)", (SCHEMA_VERSION, source))
            elif version[0] != SCHEMA_VERSION:
                raise RuntimeError(f"{self.path}: cache schema {version[0]}, not {SCHEMA_VERSION}; delete the file")

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        finally:
            db.close()

    # ------------------------------------------------------------------ refresh

    def refresh(self, force: bool = False) -> RefreshStats:
        """Fold the journal entries written since the last refresh into the cache."""
        started = time.monotonic()
        stats = RefreshStats()
        with self._lock, self.connect() as db:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            last = float(meta.get("refreshed_at", "0"))
            if not force and time.time() - last < self.refresh_seconds:
                stats.skipped = True
                return stats
            newest = meta.get("newest_key", "")
            moment = _key_time(newest) if newest else None
            start_after = _stamp_key(moment - OVERLAP) if moment else ""
            listed = self.store.backend.list_after(INDEX_PREFIX, start_after)
            stats.listed = len(listed)
            seen = {row[0] for row in db.execute("SELECT key FROM seen WHERE key > ?", (start_after,))}
            new = [k for k in listed if k not in seen and k.endswith(".json")]
            summaries = self._fetch(new)
            db.execute("BEGIN IMMEDIATE")
            try:
                for key, summary in zip(new, summaries, strict=True):
                    if summary is not None:
                        self.ingest(db, summary)
                        stats.ingested += 1
                    db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (key,))
                if "legacy_done" not in meta:  # first fill: runs written before the journal existed
                    stats.legacy = self._legacy(db)
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('legacy_done', '1')")
                if listed:
                    newest = max(newest, listed[-1])
                db.execute("INSERT OR REPLACE INTO meta VALUES ('newest_key', ?), ('refreshed_at', ?)",
                           (newest, str(time.time())))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        stats.seconds = time.monotonic() - started
        return stats

    def _fetch(self, keys: list[str]) -> list[dict[str, Any] | None]:
        def one(key: str) -> dict[str, Any] | None:
            raw = self.store.backend.get(key)
            return dict(json.loads(raw)) if raw else None

        if len(keys) <= 2:
            return [one(k) for k in keys]
        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            return list(pool.map(one, keys))

    def _legacy(self, db: sqlite3.Connection) -> int:
        known = {(d, r) for d, r in db.execute("SELECT dag_id, run_id FROM runs")}
        missing = [(d, r) for d in self.store.dag_ids() for r in self.store.run_ids(d) if (d, r) not in known]
        if not missing:
            return 0
        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            summaries = list(pool.map(lambda dr: self.store.read_summary(*dr), missing))
        for summary in summaries:
            if summary is not None:
                self.ingest(db, summary)
        return sum(s is not None for s in summaries)

    # ------------------------------------------------------------------ ingest

    def ingest(self, db: sqlite3.Connection, s: dict[str, Any]) -> None:
        dag_id, run_id = str(s["dag_id"]), str(s["run_id"])
        ts = parse_ts(s.get("finished_at")) or parse_ts(s.get("started_at")) or 0.0
        db.execute(
            "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (dag_id, run_id) DO UPDATE SET "
            "run_type=excluded.run_type, status=excluded.status, started_at=excluded.started_at, "
            "finished_at=excluded.finished_at, ts=excluded.ts, summary=excluded.summary WHERE excluded.ts >= runs.ts",
            (dag_id, run_id, s.get("run_type"), s.get("status"), s.get("started_at"), s.get("finished_at"), ts,
             json.dumps(s)))
        # Within one run the worst finding of a (check, target, kind) wins: written last at the same ts.
        for f in sorted(s.get("findings", []), key=lambda f: _rank(f.get("severity"))):
            db.execute(
                "INSERT INTO latest VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (check_name, target, kind) DO UPDATE SET "
                "severity=excluded.severity, rank=excluded.rank, message=excluded.message, value=excluded.value, "
                "dag_id=excluded.dag_id, run_id=excluded.run_id, ts=excluded.ts WHERE excluded.ts >= latest.ts",
                (f.get("check"), f.get("target"), f.get("kind", ""), f.get("severity"), _rank(f.get("severity")),
                 f.get("message"), f.get("value"), dag_id, run_id, ts))
        for task_id, state in (s.get("tasks") or {}).items():
            db.execute(
                "INSERT INTO task_last VALUES (?,?,?,?,?) ON CONFLICT (dag_id, task_id) DO UPDATE SET "
                "run_id=excluded.run_id, state=excluded.state, ts=excluded.ts WHERE excluded.ts >= task_last.ts",
                (dag_id, task_id, run_id, state, ts))
        db.execute("DELETE FROM events WHERE dag_id=? AND run_id=?", (dag_id, run_id))
        for a in s.get("actions", []):
            if a.get("action") in EVENT_ACTIONS and a.get("status") in ("done", "failed"):
                db.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?)",
                           (a["action"], a.get("target"), int(a["status"] == "done"), a.get("duration_s"),
                            dag_id, run_id, ts))
        db.execute("DELETE FROM points WHERE dag_id=? AND run_id=?", (dag_id, run_id))
        db.executemany("INSERT INTO points VALUES (?,?,?,?,?,?,?)",
                       [(p["series"], p["target"], p["label"], p["value"], dag_id, run_id, ts)
                        for p in s.get("points", [])])

    # ------------------------------------------------------------------ queries

    def scoped(self, dags: Iterable[str]) -> RunIndex:
        """The same cache, every query limited to the runs of ``dags`` (what one user may read)."""
        view = copy.copy(self)
        view.dags = frozenset(dags)
        return view

    def _only(self, column: str = "dag_id") -> tuple[str, tuple[str, ...]]:
        """An SQL condition (and its parameters) limiting rows to the scope's DAGs; always true unscoped."""
        if self.dags is None:
            return "1=1", ()
        if not self.dags:
            return "1=0", ()
        return f"{column} IN ({','.join('?' * len(self.dags))})", tuple(sorted(self.dags))

    def dag_ids(self) -> list[str]:
        """Every DAG with a run in the cache (unscoped: the candidates an authorization filters)."""
        with self.connect() as db:
            return [d for (d,) in db.execute("SELECT DISTINCT dag_id FROM runs ORDER BY dag_id")]

    def last_runs(self) -> list[dict[str, Any]]:
        """The newest run of each DAG."""
        only, args = self._only()
        with self.connect() as db:
            rows = db.execute(
                "SELECT r.dag_id, r.run_id, r.run_type, r.status, r.finished_at, r.ts FROM runs r "
                f"JOIN (SELECT dag_id, MAX(ts) AS ts FROM runs WHERE {only} GROUP BY dag_id) m "
                "ON r.dag_id=m.dag_id AND r.ts=m.ts ORDER BY r.dag_id, r.run_id DESC", args).fetchall()
        out: dict[str, dict[str, Any]] = {}
        for dag_id, run_id, run_type, status, finished_at, ts in rows:
            out.setdefault(dag_id, {"dag_id": dag_id, "run_id": run_id, "run_type": run_type, "status": status,
                                    "finished_at": finished_at, "ts": ts})
        return list(out.values())

    def last_by_status(self) -> list[tuple[str, str, float]]:
        only, args = self._only()
        with self.connect() as db:
            return [(d, s, t) for d, s, t in
                    db.execute(f"SELECT dag_id, status, MAX(ts) FROM runs WHERE {only} GROUP BY dag_id, status", args)]

    def recent_runs(self, dag_id: str, limit: int = 5) -> list[dict[str, Any]]:
        only, args = self._only()
        with self.connect() as db:
            rows = db.execute(f"SELECT run_id, status, finished_at FROM runs WHERE dag_id=? AND {only} "
                              "ORDER BY ts DESC LIMIT ?", (dag_id, *args, limit)).fetchall()
        return [{"dag_id": dag_id, "run_id": r, "status": s, "finished_at": f} for r, s, f in rows]

    def latest_findings(self) -> list[dict[str, Any]]:
        only, args = self._only()
        with self.connect() as db:
            rows = db.execute("SELECT check_name, target, kind, severity, message, value, dag_id, run_id, ts "
                              f"FROM latest WHERE {only}", args).fetchall()
        keys = ("check", "target", "kind", "severity", "message", "value", "dag_id", "run_id", "ts")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def last_event(self, action: str, target: str, ok_only: bool) -> dict[str, Any] | None:
        only, args = self._only()
        with self.connect() as db:
            row = db.execute(
                f"SELECT ok, duration_s, dag_id, run_id, ts FROM events WHERE action=? AND target=? AND {only}"
                + (" AND ok=1" if ok_only else "") + " ORDER BY ts DESC LIMIT 1", (action, target, *args)).fetchone()
        if row is None:
            return None
        return dict(zip(("ok", "duration_s", "dag_id", "run_id", "ts"), row, strict=True))

    def event_targets(self, action: str) -> list[str]:
        only, args = self._only()
        with self.connect() as db:
            return [t for (t,) in db.execute(f"SELECT DISTINCT target FROM events WHERE action=? AND {only}",
                                             (action, *args))]

    def task_last(self) -> dict[tuple[str, str], dict[str, Any]]:
        only, args = self._only()
        with self.connect() as db:
            rows = db.execute(f"SELECT dag_id, task_id, run_id, state, ts FROM task_last WHERE {only}", args).fetchall()
        return {(d, t): {"run_id": r, "state": s, "ts": ts} for d, t, r, s, ts in rows}

    def points(self, series: str, since_ts: float) -> list[dict[str, Any]]:
        only, args = self._only()
        with self.connect() as db:
            rows = db.execute(f"SELECT target, label, value, ts FROM points WHERE series=? AND ts>=? AND {only} "
                              "ORDER BY ts", (series, since_ts, *args)).fetchall()
        return [{"target": t, "label": lab, "value": v, "ts": ts} for t, lab, v, ts in rows]

    def latest_points(self, series: str) -> list[dict[str, Any]]:
        """The newest point of ``series`` per (target, label)."""
        only, args = self._only()
        with self.connect() as db:
            rows = db.execute(
                "SELECT p.target, p.label, p.value, p.ts FROM points p JOIN (SELECT target, MAX(ts) AS ts FROM points "
                f"WHERE series=? AND {only} GROUP BY target) m ON p.target=m.target AND p.ts=m.ts "
                f"WHERE p.series=? AND {self._only('p.dag_id')[0]} ORDER BY p.target, p.label",
                (series, *args, series, *args)).fetchall()
        return [{"target": t, "label": lab, "value": v, "ts": ts} for t, lab, v, ts in rows]

    def run_count(self) -> int:
        only, args = self._only()
        with self.connect() as db:
            return int(db.execute(f"SELECT COUNT(*) FROM runs WHERE {only}", args).fetchone()[0])


def _rank(severity: Any) -> int:
    try:
        return int(Severity.parse(str(severity)))
    except ValueError:
        return int(Severity.UNKNOWN)
