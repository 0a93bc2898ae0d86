"""Scratch servers (issue 26 item 9) against real PostgreSQL 15 binaries: they start on a copy of a
cluster whose settings need certificates and huge pages, they never outlive their worker, and the
sweep that ends orphans never runs or signals anything a file names."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mercenary_maintenance.backups import binaries, scratch
from mercenary_maintenance.config import TimeoutsConfig


@pytest.fixture
def work() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mm-scratch-test-"))
    path.chmod(0o755)  # the server runs as the unprivileged account when we are root
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def bin15() -> Path:
    return binaries.client_dir(15, None, "initdb")


def dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 1):
            return False
    except ConnectionRefusedError:
        return True


def test_scratch_server_is_always_removed_and_a_killed_workers_server_is_swept(work: Path) -> None:
    seen: list[scratch.FreshServer] = []

    def restore_that_fails() -> None:
        with scratch.fresh_server(bin15(), 15, TimeoutsConfig(), str(work)) as srv:
            seen.append(srv)
            with srv.pg.connect() as conn:
                assert conn.execute("SHOW server_version_num").fetchone()[0].startswith("15")
                assert conn.execute("SHOW ssl").fetchone()[0] == "off"
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        restore_that_fails()
    assert not seen[0].base_dir.exists()
    assert refused(seen[0].pg.port)

    root = scratch.scratch_root(str(work))
    st = root.lstat()
    assert (st.st_uid, st.st_mode & 0o777) == (scratch.server_uid()[0], 0o700)

    # a worker killed with SIGKILL never runs its finally: the next scratch server sweeps its server
    orphan_cm = scratch.fresh_server(bin15(), 15, TimeoutsConfig(), str(work))
    orphan = orphan_cm.__enter__()
    owner = orphan.base_dir / scratch.OWNER_FILE
    owner.write_text(json.dumps({"worker_pid": dead_pid(), "worker_started": "1"}))
    with scratch.fresh_server(bin15(), 15, TimeoutsConfig(), str(work)) as second:
        assert second.swept == (str(orphan.base_dir),)
        assert not orphan.base_dir.exists()
        assert refused(orphan.pg.port)
        live = second.base_dir
    orphan_cm.__exit__(None, None, None)  # its workspace is gone already: nothing left to do
    assert not live.exists()
    assert list(root.iterdir()) == []


def test_planted_owner_files_are_never_executed_nor_signalled(work: Path) -> None:
    marker = work / "marker"
    script = work / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    victim = subprocess.Popen(["sleep", "120"])
    planted = [Path(tempfile.mkdtemp(prefix="mm-restore-server-")), work / "mm-restore-server-x"]
    try:
        # the old layout: "<pid>\n<pg_ctl path>" in /tmp, which the sweep used to run
        for old in planted:
            old.mkdir(exist_ok=True)
            (old / "owner").write_text(f"{dead_pid()}\n{script}\n")
            (old / "data").mkdir()
            (old / "data" / "postmaster.pid").write_text(f"{victim.pid}\n")
        # inside the private root: a dead worker's workspace naming the script and a live process
        root = scratch.scratch_root(str(work))
        evil = root / "restore-server-evil"
        (evil / "data").mkdir(parents=True)
        (evil / scratch.OWNER_FILE).write_text(json.dumps(
            {"worker_pid": dead_pid(), "worker_started": "1", "pg_ctl": str(script)}))
        (evil / "data" / "postmaster.pid").write_text(f"{victim.pid}\n{evil / 'data'}\n")
        evil.chmod(0o700)
        scratch.hand_over(evil)
        # a symlink in the root is never followed (its target is not removed)
        elsewhere = work / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / scratch.OWNER_FILE).write_text(json.dumps({"worker_pid": dead_pid(), "worker_started": "1"}))
        (root / "restore-server-link").symlink_to(elsewhere)

        with scratch.fresh_server(bin15(), 15, TimeoutsConfig(), str(work)) as srv:
            assert srv.swept == (str(evil),)
        assert not marker.exists()
        assert victim.poll() is None  # not the server it claims to be: never signalled
        assert elsewhere.exists()
        assert all((old / "owner").exists() for old in planted)
    finally:
        victim.kill()
        victim.wait()
        for old in planted:
            shutil.rmtree(old, ignore_errors=True)


def test_a_root_not_private_to_the_worker_is_refused(work: Path) -> None:
    root = work / f"{scratch.ROOT_PREFIX}{scratch.server_uid()[0]}"
    root.mkdir(mode=0o777)
    root.chmod(0o777)
    uid, gid = scratch.server_uid()
    os.chown(root, uid, gid)
    with pytest.raises(scratch.UnsafeScratchRoot, match="mode 0777, not 0700"), \
            scratch.fresh_server(bin15(), 15, TimeoutsConfig(), str(work)):
        pass
    if os.geteuid() == 0:  # someone else's directory, private or not, is never trusted
        root.chmod(0o700)
        os.chown(root, 65534, 65534)
        with pytest.raises(scratch.UnsafeScratchRoot, match="owned by uid 65534"), scratch.workspace(str(work), "x"):
            pass
    root.rmdir()
    root.symlink_to(work)
    with pytest.raises(scratch.UnsafeScratchRoot, match="not a directory"), scratch.workspace(str(work), "x"):
        pass


@pytest.mark.parametrize("layout", ["conf_in_data_dir", "debian"])
def test_copy_of_a_cluster_with_ssl_and_huge_pages_starts(work: Path, layout: str) -> None:
    with scratch.workspace(str(work), "chain") as space:
        data_dir = scratch._initdb(bin15(), space, "unused-password", 120)
        conf = data_dir / "postgresql.conf"
        if layout == "debian":  # the configuration lives in /etc/postgresql/…, not in the copy
            conf.unlink()
        else:
            conf.write_text("ssl = on\nssl_cert_file = '/nonexistent/server.crt'\nhuge_pages = on\n"
                            "shared_buffers = 64GB\nshared_preload_libraries = 'no_such_extension'\n"
                            "archive_mode = on\narchive_command = 'false'\n")
        (data_dir / "postgresql.auto.conf").write_text("ssl = on\nhuge_pages = on\n")
        with scratch.scratch_server(bin15(), data_dir, 120) as server:
            with server.connect(scratch.FRESH_USER, "postgres", TimeoutsConfig()) as conn:  # type: ignore[attr-defined]
                settings = dict(conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN ('ssl', 'huge_pages', "
                    "'listen_addresses', 'archive_mode')").fetchall())
            pid = scratch.postmaster_pid(data_dir)
            assert pid is not None
            assert scratch.is_server_of(pid, data_dir)
        assert settings == {"ssl": "off", "huge_pages": "off", "listen_addresses": "", "archive_mode": "off"}
        assert scratch.process_started(pid) is None  # stopped on exit
    assert not space.exists()


def test_a_server_outside_a_workspace_is_refused(work: Path) -> None:
    with pytest.raises(ValueError, match="not in a scratch workspace"), \
            scratch.scratch_server(bin15(), work / "data"):
        pass


def test_sweep_ignores_live_workers(work: Path) -> None:
    with scratch.workspace(str(work), "chain") as space:
        assert scratch.sweep_orphans(str(work)) == []
        assert space.exists()
        assert os.stat(space / scratch.OWNER_FILE).st_uid == scratch.server_uid()[0]
