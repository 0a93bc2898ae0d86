"""SSH to a host target: the provider's ``SSHHook`` (paramiko), SFTP for files.

* The host key must be pinned: the connection's ``host_key`` extra, or the worker's
  ``~/.ssh/known_hosts`` (paramiko rejects a host it does not know). A connection with
  ``no_host_key_check`` (or ``allow_host_key_change``) on is refused before connecting, unless
  the host entry says ``allow_unknown_host_key: true``.
* Bounds (``timeouts.ssh``): TCP connect, banner and authentication each ``connect_s`` (one
  attempt: a dead host costs at most 3 × ``connect_s``); every command and every SFTP read
  ``command_s`` — at the deadline the channel is closed and :class:`HostUnreachable` names the host.
* Only the commands of :data:`mercenary_maintenance.hosts.COMMANDS` are run.
"""

from __future__ import annotations

import time
from typing import IO, Any

from mercenary_maintenance.adapters.host_commands import (
    Entry,
    HostCommandError,
    HostUnreachable,
    Result,
    command_line,
    failure,
    shell_line,
)
from mercenary_maintenance.config import HostTarget, SshTimeouts
from mercenary_maintenance.redact import first_line

CHUNK = 1 << 16


def unpinned_message(host: HostTarget, conn_id: str) -> str:
    return (f"host {host.name}: SSH connection {conn_id!r} has host-key checking off (extra no_host_key_check or "
            "allow_host_key_change): refused. Fix: pin the key — set the connection's extra host_key to the line "
            "`ssh-keyscan -t ed25519 <host>` prints (\"ssh-ed25519 AAAA…\"), or add it to the worker's "
            "~/.ssh/known_hosts and drop no_host_key_check; or accept the risk with "
            f"targets.hosts[{host.name}].allow_unknown_host_key: true")


def make_hook(host: HostTarget, timeouts: SshTimeouts) -> Any:
    """The provider's hook for ``host``, refused when its host key is not pinned."""
    from airflow.providers.ssh.hooks.ssh import SSHHook

    assert host.ssh_conn_id is not None
    hook = SSHHook(ssh_conn_id=host.ssh_conn_id, conn_timeout=timeouts.connect_s,  # type: ignore[arg-type]
                   banner_timeout=timeouts.connect_s, auth_timeout=timeouts.connect_s,  # type: ignore[arg-type]
                   cmd_timeout=timeouts.command_s, conn_retry_attempts=1, keepalive_interval=10)
    if (hook.no_host_key_check or hook.allow_host_key_change) and not host.allow_unknown_host_key:
        raise HostUnreachable(unpinned_message(host, host.ssh_conn_id))
    return hook


class SshTransport:
    """A :class:`~mercenary_maintenance.hosts.Transport` over SSH (connects on first use)."""

    def __init__(self, host: HostTarget, timeouts: SshTimeouts) -> None:
        self.host = host
        self.timeouts = timeouts
        self._client: Any = None
        self._sftp: Any = None
        # A host that failed to connect is not tried again by the same task: each try costs the bounds.
        self._failed: HostUnreachable | None = None

    def _connect(self) -> Any:
        if self._failed is not None:
            raise self._failed
        if self._client is None:
            try:
                hook = make_hook(self.host, self.timeouts)
            except HostUnreachable as exc:
                self._failed = exc
                raise
            started = time.monotonic()
            try:
                self._client = hook.get_conn()
            except Exception as exc:
                took = time.monotonic() - started
                self._failed = HostUnreachable(
                    f"host {self.host.name} ({hook.remote_host}:{hook.port}) unreachable after {took:.1f}s: "
                    f"{type(exc).__name__}: {first_line(exc)}")
                raise self._failed from exc
        return self._client

    def _channel_sftp(self) -> Any:
        if self._sftp is None:
            self._sftp = self._connect().open_sftp()
            self._sftp.get_channel().settimeout(self.timeouts.command_s)
        return self._sftp

    def run(self, name: str, *args: str, check: bool = True) -> Result:
        argv = command_line(name, *args)
        client = self._connect()
        deadline = time.monotonic() + self.timeouts.command_s
        chan = client.get_transport().open_session(timeout=self.timeouts.connect_s)
        out, err = bytearray(), bytearray()
        try:
            chan.settimeout(0.2)
            chan.exec_command(shell_line(argv))
            while True:
                got = False
                if chan.recv_ready():
                    out += chan.recv(CHUNK)
                    got = True
                if chan.recv_stderr_ready():
                    err += chan.recv_stderr(CHUNK)
                    got = True
                if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                if time.monotonic() > deadline:
                    raise HostUnreachable(f"{argv[0]} on host {self.host.name} still running after "
                                          f"{self.timeouts.command_s:g}s (timeouts.ssh.command_s): channel closed")
                if not got:
                    time.sleep(0.02)
            code = chan.recv_exit_status()
        finally:
            chan.close()
        result = Result(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
        if check and code != 0:
            raise HostCommandError(failure(self.host.name, argv, result))
        return result

    def listdir(self, path: str) -> list[Entry]:
        sftp = self._channel_sftp()
        base = path.rstrip("/") or "/"
        return [Entry(f"{base.rstrip('/')}/{a.filename}", a.st_mode or 0, a.st_size or 0, float(a.st_mtime or 0))
                for a in sftp.listdir_attr(base)]

    def lstat(self, path: str) -> Entry:
        a = self._channel_sftp().lstat(path)
        return Entry(path, a.st_mode or 0, a.st_size or 0, float(a.st_mtime or 0))

    def open(self, path: str) -> IO[bytes]:
        return self._channel_sftp().open(path, "rb")  # type: ignore[no-any-return]

    def remove(self, path: str) -> None:
        self._channel_sftp().remove(path)

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
        if self._client is not None:
            self._client.close()
        self._client = self._sftp = None
