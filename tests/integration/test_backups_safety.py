"""Fault matrix of issue 13 items 3-4 against real PostgreSQL 15 and moto S3 over HTTP.

A retry never overwrites a good backup (per-attempt keys, manifest last, older attempts of
the date deleted only after the new manifest, manifest before objects); restore tests run on
a scratch server by default and never touch production; on the target server they are
bounded by ``restore_max_bytes`` and their cleanup keeps to its own target's marked databases.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
from mercenary_dev import servers

from mercenary_maintenance.backups import bodies, catalog, keys, restore
from mercenary_maintenance.clients import Clients
from mercenary_maintenance.config import ConfigError, load_config
from mercenary_maintenance.findings import ActionStatus, Severity
from tests.integration.backup_helpers import backup_env
from tests.integration.test_backups_full import (
    DATE_DIR,
    _listing,
    backup_files,
    bucket_of,
    good_dir,
    make_step,
    objects,
)

SOURCE_DB = "bk_safety_main"
EU_DB = "bk_safety_main_eu"


@pytest.fixture(scope="module")
def source(pg: servers.PostgresServer) -> str:
    for name, rows in ((SOURCE_DB, 3000), (EU_DB, 1700)):
        pg.create_database(name)
        pg.execute(f"CREATE TABLE orders (id bigint PRIMARY KEY, note text); "
                   f"INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, {rows}) g;", name)
    return SOURCE_DB


@pytest.fixture
def env(pg, s3, source, write_config, connections) -> Callable[..., dict[str, Any]]:
    return backup_env(pg, s3, source, write_config, connections, "bsafe")


def databases(pg: servers.PostgresServer) -> dict[str, int]:
    with pg.connect() as conn:
        return {r[0]: int(r[1]) for r in conn.execute("SELECT datname, oid FROM pg_database").fetchall()}


def source_state(pg: servers.PostgresServer, db: str) -> tuple[int, int]:
    """(oid, rows): what "untouched" means for a source database here."""
    with pg.connect(db) as conn:
        oid = int(conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0])
        return oid, int(conn.execute("SELECT count(*) FROM orders").fetchone()[0])


def complete_good_backups(s3: servers.S3Server) -> list[str]:
    """Attempts of the date whose manifest exists and names only objects present with its sizes."""
    client = s3.client()
    listed = _listing(s3, DATE_DIR)
    listing = {k: o["Size"] for k, o in listed.items()}
    out = []
    for backup in catalog.group("postgres", list(listed.values())):
        if backup.good:
            manifest = catalog.read_manifest(client, bucket_of(), backup)
            if all(listing.get(o.key) == o.size for o in manifest.objects):
                out.append(backup.prefix)
    return out


class WatchingClient:
    """The action's S3 client, checking after every delete that the date still has a good backup."""

    def __init__(self, inner: Any, s3: servers.S3Server) -> None:
        self._inner, self._s3 = inner, s3
        self.deleted: list[str] = []
        self.good_after_each_delete: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def delete_object(self, **kwargs: Any) -> Any:
        out = self._inner.delete_object(**kwargs)
        self.deleted.append(kwargs["Key"])
        self.good_after_each_delete.append(len(complete_good_backups(self._s3)))
        return out


def integrity(step_dag: str = "maintenance_daily") -> list[Any]:
    step = make_step(step_dag)
    bodies.verify_backups(step, "main")
    return [f for f in step.findings if f.check == "backup.integrity" and f.details.get("kind") == "full"]


# ------------------------------------------------------------------ item 3: never overwrite a good backup


def test_retry_dying_before_its_manifest_keeps_the_good_backup_and_a_good_retry_leaves_exactly_one(
        env, s3, monkeypatch):
    bodies.backup_full(make_step(), "main")
    first = good_dir(s3)
    first_objects = {k: (o["Size"], o["ETag"]) for k, o in _listing(s3, first).items()}
    assert set(first_objects) == backup_files(first)

    def lost(*_: Any, **__: Any) -> None:
        raise RuntimeError("injected: worker lost after the upload, before the manifest")

    failed = make_step(try_number=2)
    with monkeypatch.context() as patch:
        patch.setattr(catalog, "put_manifest", lost)
        bodies.backup_full(failed, "main", force=True)  # an operator's "take the date again"
    assert failed.actions[-1].status is ActionStatus.FAILED
    assert "injected" in failed.actions[-1].message
    orphan_dirs = {k.rsplit("/", 1)[0] + "/" for k in objects(s3, DATE_DIR)} - {first}
    assert len(orphan_dirs) == 1, orphan_dirs  # the failed attempt uploaded into a directory of its own
    orphan = orphan_dirs.pop()
    assert orphan.startswith(DATE_DIR + "a02-")
    assert set(objects(s3, orphan)) == {orphan + keys.DUMP, orphan + keys.GLOBALS}  # uploaded, no manifest
    # the previous good backup is exactly as it was, and it is still the one the checks see
    assert {k: (o["Size"], o["ETag"]) for k, o in _listing(s3, first).items()} == first_objects
    assert good_dir(s3) == first
    found = integrity()
    assert found
    assert all(f.severity is Severity.OK for f in found), found
    assert {f.details["key"] for f in found} == {first + keys.DUMP, first + keys.GLOBALS}

    watching: dict[str, WatchingClient] = {}

    class WatchedClients(Clients):
        """The step's S3 client, watched (injected through the Step, not patched)."""

        def s3(self, conn_id: str | None) -> Any:
            watching["client"] = WatchingClient(super().s3(conn_id), s3)
            return watching["client"]

    retry = make_step(try_number=3)
    retry.clients = WatchedClients(retry.cfg.timeouts)
    bodies.backup_full(retry, "main", force=True)
    assert retry.actions[-1].status is ActionStatus.DONE, retry.actions[-1]
    third = good_dir(s3)  # exactly one good backup for the date ...
    assert third.startswith(DATE_DIR + "a03-")
    assert set(objects(s3, DATE_DIR)) == backup_files(third)  # ... and no orphan objects
    assert sorted(retry.actions[-1].details["replaced"]) == sorted([first, orphan])
    # every delete left a complete good backup behind; the old manifest went before its objects
    client = watching["client"]
    assert len(client.good_after_each_delete) == 5  # old manifest, dump, globals; the orphan's dump, globals
    assert min(client.good_after_each_delete) >= 1
    assert client.deleted.index(first + keys.MANIFEST) < client.deleted.index(first + keys.DUMP)
    assert client.deleted.index(first + keys.MANIFEST) < client.deleted.index(first + keys.GLOBALS)
    found = integrity()
    assert {f.details["key"] for f in found} == {third + keys.DUMP, third + keys.GLOBALS}
    assert all(f.severity is Severity.OK for f in found), found
    redundancy = [f for f in make_daily_findings() if f.check == "backup.redundancy"]
    assert redundancy[0].details["good_full_backups"] == 1


def make_daily_findings() -> list[Any]:
    step = make_step("maintenance_daily")
    bodies.verify_backups(step, "main")
    return step.findings


def test_rerun_of_a_completed_date_is_a_noop_unless_its_backup_no_longer_verifies(env, s3):
    bodies.backup_full(make_step(), "main")
    first = good_dir(s3)
    before = {k: o["ETag"] for k, o in _listing(s3).items()}
    rerun = make_step(try_number=2)
    bodies.backup_full(rerun, "main")
    assert rerun.actions[-1].status is ActionStatus.DONE
    assert rerun.actions[-1].details["noop"] is True
    assert first in rerun.actions[-1].message
    assert {k: o["ETag"] for k, o in _listing(s3).items()} == before  # nothing written, nothing deleted

    # the date's backup lost an object: a rerun takes a new one, then removes the broken one
    s3.client().delete_object(Bucket=bucket_of(), Key=first + keys.GLOBALS)
    again = make_step(try_number=3)
    bodies.backup_full(again, "main")
    assert again.actions[-1].details.get("noop") is None, again.actions[-1]
    assert again.actions[-1].details["replaced"] == [first]
    assert set(objects(s3)) == backup_files(good_dir(s3))
    assert good_dir(s3) != first


def test_a_backup_in_the_layout_before_attempts_is_still_verified_and_never_touched(env, s3):
    import json

    bodies.backup_full(make_step(), "main")
    attempt_dir = good_dir(s3)
    client = s3.client()
    manifest = json.loads(client.get_object(Bucket=bucket_of(), Key=attempt_dir + keys.MANIFEST)["Body"].read())
    for name in (keys.DUMP, keys.GLOBALS):  # move the objects to <stamp>/<file>, as older versions wrote them
        body = client.get_object(Bucket=bucket_of(), Key=attempt_dir + name)["Body"].read()
        client.put_object(Bucket=bucket_of(), Key=DATE_DIR + name, Body=body)  # (moto's copy garbles checksums)
    manifest["key"] = DATE_DIR + keys.DUMP
    for obj in manifest["objects"]:
        obj["key"] = DATE_DIR + obj["key"].rsplit("/", 1)[1]
        del obj["etag"]  # manifests of that time recorded no ETag and no S3 checksum
        obj.pop("checksum_sha256", None)
    client.put_object(Bucket=bucket_of(), Key=DATE_DIR + keys.MANIFEST, Body=json.dumps(manifest).encode())
    for name in (keys.MANIFEST, keys.DUMP, keys.GLOBALS):
        client.delete_object(Bucket=bucket_of(), Key=attempt_dir + name)
    assert set(objects(s3)) == backup_files(DATE_DIR)

    found = integrity()
    assert {f.details["key"] for f in found} == {DATE_DIR + keys.DUMP, DATE_DIR + keys.GLOBALS}
    assert all(f.severity is Severity.OK for f in found), found
    # Its source (cluster, database) was never recorded: it may be another deployment's, so it is
    # neither this date's no-op nor replaced; a backup of this source is taken beside it, with a warning.
    rerun = make_step(try_number=2)
    bodies.backup_full(rerun, "main")
    assert rerun.actions[-1].status is ActionStatus.DONE
    assert not rerun.actions[-1].details.get("noop")
    assert rerun.actions[-1].details["replaced"] == []
    warned = [f for f in rerun.findings if f.check == "backup.source"]
    assert [f.severity for f in warned] == [Severity.WARNING], warned
    assert warned[0].details["others"] == {"unrecorded": 1}
    (ours,) = [k[: -len(keys.MANIFEST)] for k in objects(s3) if k.endswith("/" + keys.MANIFEST)
               and k != DATE_DIR + keys.MANIFEST]
    assert set(objects(s3)) == backup_files(DATE_DIR) | backup_files(ours)


# ------------------------------------------------------------------ item 4: restores never endanger production


def test_default_restore_runs_on_a_scratch_server_and_production_sees_nothing(env, s3, pg, monkeypatch):
    bodies.backup_full(make_step(), "main")
    before, source_before = databases(pg), source_state(pg, SOURCE_DB)
    during: dict[str, Any] = {}
    real_verify = restore.verify_restored

    def spy(dest: Any, scratch_db: str, *args: Any, **kwargs: Any) -> None:
        during["databases"] = databases(pg)
        with pg.connect() as conn:
            during["our_sessions"] = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mercenary_maintenance_backup'"
            ).fetchone()[0]
        with dest.connect() as conn:
            during["scratch_marker"] = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [scratch_db]
            ).fetchone()[0]
        during["port"] = dest.port
        real_verify(dest, scratch_db, *args, **kwargs)

    monkeypatch.setattr(restore, "verify_restored", spy)
    step = make_step("maintenance_weekly")
    bodies.restore_test(step, "main")
    verdict = [f for f in step.findings if f.check == "backup.restore_test"]
    assert [f.severity for f in verdict] == [Severity.OK], verdict
    assert verdict[0].details["rows"] == 3000
    details = step.actions[-1].details
    assert details["restore_on"] == "scratch_server"
    assert details["scratch_server"]["major"] == 15
    assert during["port"] == details["scratch_server"]["port"] != pg.port
    assert during["databases"] == before  # no scratch database on production during the restore
    assert during["our_sessions"] == 0  # the restore never even connected to production
    assert during["scratch_marker"] == f"mercenary-maintenance scratch: target=main run={step.run.run_id}"
    assert databases(pg) == before
    assert source_state(pg, SOURCE_DB) == source_before
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", during["port"]), timeout=1):
        pass  # the scratch server is gone

    sampled = make_step("maintenance_daily")
    bodies.sample_restore(sampled, "main")
    found = [f for f in sampled.findings if f.check == "backup.sample_restore"]
    assert [f.severity for f in found] == [Severity.OK], found
    assert found[0].details["restore_on"] == "scratch_server"
    assert databases(pg) == before


def test_target_server_needs_max_bytes_and_refuses_bigger_backups_naming_the_sizes(env, s3, pg):
    env(restore_on="target_server")
    with pytest.raises(ConfigError, match=r"backups: .*restore_on: target_server needs restore_max_bytes"):
        load_config()
    env()
    bodies.backup_full(make_step(), "main")
    env(restore_on="target_server", restore_max_bytes=1000)
    before = databases(pg)
    step = make_step("maintenance_weekly")
    bodies.restore_test(step, "main")
    action = step.actions[-1]
    assert action.status is ActionStatus.FAILED
    need = action.details["estimated_bytes"]
    assert need > 1000
    assert f"needs about {need} bytes" in action.message, action.message
    assert "over backups.restore_max_bytes 1000" in action.message
    verdict = [f for f in step.findings if f.check == "backup.restore_test"]
    assert verdict[0].severity is Severity.CRITICAL
    assert "refused" in verdict[0].message
    sampled = make_step("maintenance_daily")
    bodies.sample_restore(sampled, "main")
    found = [f for f in sampled.findings if f.check == "backup.sample_restore"]
    assert found[0].severity is Severity.CRITICAL
    assert "over backups.restore_max_bytes 1000" in found[0].message
    assert databases(pg) == before


def test_two_targets_on_one_cluster_never_drop_each_others_scratch_databases(
        env, s3, pg, write_config, connections, monkeypatch):
    connections(pg.connection_env("maintenance_postgres_eu", EU_DB))
    data = env()
    data["targets"]["postgres"].append({"name": "main_eu", "conn_id": "maintenance_postgres_eu"})
    data["backups"].update(restore_on="target_server", restore_max_bytes=1 << 30)
    write_config(data)
    bodies.backup_full(make_step(), "main")
    bodies.backup_full(make_step(), "main_eu")
    sources = {db: source_state(pg, db) for db in (SOURCE_DB, EU_DB)}
    # leftovers of killed attempts (marked), an unmarked look-alike, and a source with a marker-like comment
    with pg.connect() as admin:
        restore.create_db(admin, "mm_restore_main_dead01", restore.marker("main", "killed"))
        restore.create_db(admin, "mm_restore_main_eu_dead02", restore.marker("main_eu", "killed"))
        admin.execute("CREATE DATABASE mm_restore_main_unmarked")
        admin.execute(f"COMMENT ON DATABASE {SOURCE_DB} IS 'mercenary-maintenance scratch: target=main run=x'")
    try:
        real_verify = restore.verify_restored
        during: dict[str, Any] = {}

        def eu_spy(dest: Any, scratch_db: str, *args: Any, **kwargs: Any) -> None:
            # main_eu's scratch database exists and is in use: main's restore test (with its
            # cleanup) runs now, on the same cluster
            during["eu_scratch"] = scratch_db
            with pg.connect() as admin:  # and one more killed main_eu attempt, made after eu's own cleanup
                restore.create_db(admin, "mm_restore_main_eu_dead03", restore.marker("main_eu", "killed"))
            monkeypatch.setattr(restore, "verify_restored", real_verify)
            main_step = make_step("maintenance_weekly")
            bodies.restore_test(main_step, "main")
            during["main"] = main_step
            during["after_main"] = databases(pg)
            real_verify(dest, scratch_db, *args, **kwargs)

        monkeypatch.setattr(restore, "verify_restored", eu_spy)
        eu_step = make_step("maintenance_weekly")
        bodies.restore_test(eu_step, "main_eu")
        main_step = during["main"]
        main_verdict = [f for f in main_step.findings if f.check == "backup.restore_test"]
        assert [f.severity for f in main_verdict] == [Severity.OK], main_verdict
        assert main_step.actions[-1].details["restore_on"] == "target_server"
        assert main_step.actions[-1].details["dropped_leftovers"] == ["mm_restore_main_dead01"]
        assert during["eu_scratch"] in during["after_main"]  # main's cleanup left main_eu's restore alone
        assert "mm_restore_main_eu_dead03" in during["after_main"]  # nor main_eu's leftovers
        eu_verdict = [f for f in eu_step.findings if f.check == "backup.restore_test"]
        assert [f.severity for f in eu_verdict] == [Severity.OK], eu_verdict  # its database survived
        assert eu_verdict[0].details["rows"] == 1700
        assert eu_step.actions[-1].details["dropped_leftovers"] == ["mm_restore_main_eu_dead02"]
        left = databases(pg)
        assert "mm_restore_main_unmarked" in left  # not marked: not ours to drop
        assert "mm_restore_main_eu_dead02" not in left
        assert sorted(d for d in left if d.startswith("mm_restore_")) == ["mm_restore_main_eu_dead03",
                                                                            "mm_restore_main_unmarked"]
        assert {db: source_state(pg, db) for db in (SOURCE_DB, EU_DB)} == sources  # sources untouched
    finally:
        with pg.connect() as admin:
            admin.execute("DROP DATABASE IF EXISTS mm_restore_main_unmarked")
            admin.execute("DROP DATABASE IF EXISTS mm_restore_main_eu_dead03")
            admin.execute(f"COMMENT ON DATABASE {SOURCE_DB} IS NULL")
