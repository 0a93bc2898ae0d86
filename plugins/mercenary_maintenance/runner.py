"""The one way this project runs a subprocess (pg_dump, pg_restore, pg_basebackup, …).

Commands are logged with secrets masked; the runner is injectable (``Runner``
protocol, matching :func:`subprocess.run`) so tests can observe or replace it, and
streaming callers get a :class:`subprocess.Popen` from :func:`spawn`.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from mercenary_maintenance.redact import mask

__all__ = ["CommandError", "Runner", "child_env", "describe", "mask", "run", "secret_env_names", "spawn"]

log = logging.getLogger(__name__)

_SECRET_ENV = ("PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "REDISCLI_AUTH")


class CommandError(RuntimeError):
    """A subprocess exited non-zero; the message holds its last stderr lines (masked)."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = mask(stderr)
        tail = "\n".join(self.stderr.strip().splitlines()[-5:])
        super().__init__(f"{Path(argv[0]).name} exited with {returncode}: {tail or '(no stderr)'}")


class Runner(Protocol):
    def __call__(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = ...,
        timeout: float | None = ...,
        check: bool = ...,
        capture_output: bool = ...,
        text: bool = ...,
    ) -> subprocess.CompletedProcess[str]: ...


def describe(argv: Sequence[str]) -> str:
    return mask(shlex.join(str(a) for a in argv))


# What a child inherits from the worker: nothing else (no AIRFLOW_CONN_*, Fernet key, JWT
# secret, cloud credentials). PG*/AWS_* a child needs are passed per call in ``extra``.
_INHERITED_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "HOME", "TMPDIR")


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed environment of a child process: PATH, locale, TZ, HOME, TMPDIR from
    this process, plus exactly what the caller passes (e.g. ``PGPASSWORD`` for one call)."""
    env = {k: v for k, v in os.environ.items() if k in _INHERITED_ENV or k.startswith("LC_")}
    env.update(extra or {})
    return env


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    runner: Runner = subprocess.run,  # type: ignore[assignment]
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion; raise :class:`CommandError` on a non-zero exit."""
    log.info("run: %s", describe(argv))
    proc = runner(list(argv), env=child_env(env), timeout=timeout, check=False, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr or "")
    return proc


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: int | IO[Any] | None = None,
    stdout: int | IO[Any] | None = subprocess.PIPE,
    stderr: int | IO[Any] | None = subprocess.PIPE,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` for streaming; the caller owns the pipes and must ``wait()``."""
    log.info("spawn: %s", describe(argv))
    return subprocess.Popen(list(argv), env=child_env(env), stdin=stdin, stdout=stdout, stderr=stderr)


def secret_env_names() -> tuple[str, ...]:
    return _SECRET_ENV
