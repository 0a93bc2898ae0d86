"""Simulated hosts for tests and the demo: a real ``sshd`` (Debian openssh-server) per host, each on
its own loopback port inside its own mount namespace (``unshare --mount``, needs root), with tmpfs
mounted at the paths the host checks read — so one host's ``/var/log`` is not another's.

Each host has its own host key; all accept one test client key. ``Host.sh`` runs a command inside
the host's namespace (``nsenter``) to plant files or fill a filesystem. Stand-ins inside a host
(``/usr/local/sbin`` is the host's own tmpfs, first on sshd's PATH): ``nft`` (prints the file
``/etc/mercenary/nft.rules``) when the machine has no nftables.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from mercenary_dev.servers import BlackHole, ServerError, free_port, wait_for_port

SSHD = "/usr/sbin/sshd"
# Each gets a tmpfs of its own inside the host (size in MB).
HOST_MOUNTS = {"/var/log": 20, "/tmp": 20, "/var/cache/apt/archives": 20, "/var/lib/apt/lists": 5,
               "/usr/local/sbin": 1, "/etc/mercenary": 1}
NFT_STANDIN = "#!/bin/sh\n[ \"$1 $2\" = \"list ruleset\" ] && exec cat /etc/mercenary/nft.rules\nexit 2\n"


def require_root() -> None:
    if os.geteuid() != 0:
        raise ServerError("simulated hosts need root (unshare --mount, sshd); run the tests as root (CI does)")
    if not os.path.exists(SSHD):
        raise ServerError("sshd missing: apt-get install -y openssh-server")


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return (path.with_suffix(".pub") if path.suffix else Path(f"{path}.pub")).read_text().strip()


@dataclass
class Host:
    """One simulated machine: sshd in a mount namespace of its own."""

    name: str
    base: Path
    client_key: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    host_key_line: str = ""
    inner_pid: int = 0

    def start(self) -> Host:
        self.port = self.port or free_port()
        key = self.base / "ssh_host_ed25519_key"
        self.host_key_line = " ".join(_keygen(key, self.name).split()[:2])
        (self.base / "authorized_keys").write_text(Path(f"{self.client_key}.pub").read_text())
        config = self.base / "sshd_config"
        config.write_text(textwrap.dedent(f"""\
            Port {self.port}
            ListenAddress 127.0.0.1
            HostKey {key}
            PidFile none
            AuthorizedKeysFile {self.base / 'authorized_keys'}
            PermitRootLogin prohibit-password
            PasswordAuthentication yes
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            LogLevel VERBOSE
            MaxStartups 100
            Subsystem sftp internal-sftp
            """))
        mounts = " && ".join(f"mkdir -p {path} && mount -t tmpfs -o size={mb}m tmpfs {path}"
                             for path, mb in HOST_MOUNTS.items())
        script = (f"{mounts} && mkdir -p /var/lib/apt/lists/partial /var/log/mercenary /tmp/mercenary "
                  f"&& exec {SSHD} -D -f {config} -E /var/log/auth.log")
        Path("/run/sshd").mkdir(exist_ok=True)
        log = (self.base / "start.log").open("wb")
        # Its own PID namespace too (a real machine sees only its own processes in /proc: the open-file
        # check reads every /proc/*/fd there).
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--pid", "--fork",
                                      "--kill-child", "--mount-proc", "sh", "-c", script],
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, timeout=20, proc=self.proc)
        self.inner_pid = self._child_pid()
        if not shutil.which("nft"):
            self.write("/usr/local/sbin/nft", NFT_STANDIN, mode="755")
            self.write("/etc/mercenary/nft.rules", "table inet filter {\n}\n")
        return self

    def _child_pid(self) -> int:
        """The host's first process (sshd, pid 1 inside), child of ``unshare --fork``."""
        assert self.proc is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
            if children:
                return int(children[0])
            time.sleep(0.05)
        raise ServerError(f"{self.name}: the host's first process never appeared")

    def sh(self, command: str, check: bool = True, stdin: str | None = None) -> str:
        """Run ``command`` (sh -c) inside this host's mount and PID namespaces; its stdout."""
        assert self.proc is not None
        done = subprocess.run(["nsenter", "-t", str(self.inner_pid), "-m", "-p", "sh", "-c", command],
                              capture_output=True, text=True, timeout=60, input=stdin or "")
        if check and done.returncode != 0:
            raise ServerError(f"{self.name}: {command!r} failed: {done.stderr.strip()}")
        return done.stdout

    def write(self, path: str, text: str, mode: str = "644", mtime: float | None = None) -> None:
        """Create ``path`` on this host (its directory too), optionally with an old mtime."""
        self.sh(f"mkdir -p $(dirname {path}) && cat > {path} && chmod {mode} {path}", stdin=text)
        if mtime is not None:
            self.sh(f"touch -d @{int(mtime)} {path}")

    def connection_env(self, conn_id: str, pinned: bool = True) -> dict[str, str]:
        extra: dict[str, str] = {"private_key": self.client_key.read_text(), "look_for_keys": "false"}
        if pinned:
            extra["host_key"] = self.host_key_line
        else:
            extra["no_host_key_check"] = "true"
        conn = {"conn_type": "ssh", "host": "127.0.0.1", "port": self.port, "login": "root", "extra": extra}
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            if self.inner_pid:  # unshare --fork waits for its child: stop sshd (the namespace's init) first
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.inner_pid, signal.SIGTERM)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


@dataclass
class Fleet:
    """Simulated hosts sharing one client key, plus a black-hole TCP port (accepts, never speaks SSH)."""

    names: tuple[str, ...] = ("app1", "app2")
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mm-hosts-", dir="/var/tmp")))
    hosts: dict[str, Host] = field(default_factory=dict)
    black_hole: BlackHole | None = None

    def start(self) -> Fleet:
        require_root()
        client_key = self.base / "client_key"
        _keygen(client_key, "mercenary-maintenance-test")
        try:
            for name in self.names:
                (self.base / name).mkdir()
                self.hosts[name] = Host(name, self.base / name, client_key).start()
            self.black_hole = BlackHole().start()
        except BaseException:
            self.stop()
            raise
        return self

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def conn_id(self, name: str) -> str:
        return f"maintenance_ssh_{name}"

    def connection_env(self) -> dict[str, str]:
        """Pinned connections for every host, and ``maintenance_ssh_dead`` to the black hole."""
        env: dict[str, str] = {}
        for name, host in self.hosts.items():
            env.update(host.connection_env(self.conn_id(name)))
        assert self.black_hole is not None
        first = next(iter(self.hosts.values()))
        dead = json.loads(first.connection_env("x")["AIRFLOW_CONN_X"])
        dead["port"] = self.black_hole.port
        env["AIRFLOW_CONN_MAINTENANCE_SSH_DEAD"] = json.dumps(dead)
        return env

    def host_entries(self, **per_host: object) -> list[dict[str, object]]:
        """``targets.hosts`` entries for every simulated host (``per_host`` merged into each)."""
        return [{"name": name, "transport": "ssh", "ssh_conn_id": self.conn_id(name),
                 "paths": ["/var/log", "/tmp"], **per_host} for name in self.hosts]

    def stop(self) -> None:
        for host in self.hosts.values():
            host.stop()
        if self.black_hole is not None:
            self.black_hole.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    cleanup = stop


def wait_for_log(host: Host, needle: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while needle not in host.sh("cat /var/log/auth.log", check=False):
        if time.monotonic() > deadline:
            raise ServerError(f"{host.name}: {needle!r} never appeared in /var/log/auth.log")
        time.sleep(0.1)
