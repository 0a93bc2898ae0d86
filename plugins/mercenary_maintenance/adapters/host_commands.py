"""What runs on a host target and what comes back: the fixed command set, results, file entries.

The one list of commands any host transport (SSH or the worker itself) may run — nothing else is
ever run on a host, so a sudoers file can allow exactly these (docs/areas/hosts.md).
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass


class HostUnreachable(RuntimeError):
    """The host could not be reached or refused us (connect, banner, auth, host key)."""


class HostCommandError(RuntimeError):
    """A host command exited non-zero (the message has its last stderr lines)."""


def _argv(*fixed: str) -> Callable[..., list[str]]:
    def build(*args: str) -> list[str]:
        return [*fixed, *args]
    return build


# The only commands run on a host: name → argv builder. Arguments come from the config (paths,
# patterns, units) and are passed as separate words (quoted for the remote shell).
COMMANDS: dict[str, Callable[..., list[str]]] = {
    "df_blocks": _argv("df", "-P", "-k", "--"),             # host.disk_usage
    "df_inodes": _argv("df", "-P", "-i", "--"),             # host.inode_usage
    "proc_stat": _argv("cat", "/proc/stat"),                # host.cpu (two samples)
    "meminfo": _argv("cat", "/proc/meminfo"),               # host.memory
    "pgrep": _argv("pgrep", "-f", "--"),                    # services.status (process)
    "unit_active": _argv("systemctl", "is-active", "--"),   # services.status (unit)
    "journal_sshd": _argv("journalctl", "--no-pager", "-o", "short-iso", "-t", "sshd", "--since"),  # failed logins
    "apt_simulate": _argv("apt-get", "-s", "-o", "Debug::NoLocking=1", "upgrade"),  # pending updates
    "nft_ruleset": _argv("nft", "list", "ruleset"),         # firewall changes
    "iptables_save": _argv("iptables-save"),                # firewall changes (no nft)
    "apt_clean": _argv("apt-get", "clean"),                 # host.package_cache_clean (opt-in)
    "open_files": _argv("find", "/proc", "-mindepth", "3", "-maxdepth", "3", "-path", "/proc/[0-9]*/fd/*",
                        "-printf", "%l\\n"),                # logs.archive / tmp.cleanup: never delete an open file
    "file_ids": _argv("stat", "-c", "%d:%i %s %Y %n", "--"),  # logs.errors: inode of each file (rotation)
}


def command_line(name: str, *args: str) -> list[str]:
    """The argv of a known command; anything else is refused."""
    if name not in COMMANDS:
        raise ValueError(f"{name!r} is not one of the host commands ({sorted(COMMANDS)})")
    return COMMANDS[name](*[str(a) for a in args])


def shell_line(argv: Sequence[str]) -> str:
    """The argv as one line for the remote shell (every word quoted).

    >>> shell_line(["pgrep", "-f", "--", "my app; rm -rf /"])
    "pgrep -f -- 'my app; rm -rf /'"
    """
    return shlex.join(argv)


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Entry:
    """A file on a host, as ``lstat`` sees it (links are never followed)."""

    path: str
    mode: int
    size: int
    mtime: float

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.mode)


def failure(host: str, argv: Sequence[str], result: Result) -> str:
    tail = " | ".join(result.stderr.strip().splitlines()[-3:]) or "(no stderr)"
    return f"{argv[0]} on {host} exited with {result.returncode}: {tail}"
