"""The one way this project runs a subprocess (pg_dump, pg_restore, pg_basebackup, …).

Commands are logged with secrets masked; the runner is injectable (``Runner``
protocol, matching :func:`subprocess.run`) so tests can observe or replace it, and
streaming callers get a :class:`subprocess.Popen` from :func:`spawn`.

Every command has a deadline (``timeouts.subprocess``: ``default_s`` for :func:`run`,
``backup_s`` for :func:`spawn`, unless the caller gives one). Children start in a session of
their own; at the deadline the whole process group gets SIGTERM, then SIGKILL after
``kill_grace_s``, and the caller gets :class:`CommandTimeout` naming the program that hung.
A spawned child is killed by a watchdog even when nobody is in ``wait()`` (a reader blocked
on the pipe of a stopped ``pg_dump`` gets EOF and the pipeline ends).
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from mercenary_maintenance.redact import mask

__all__ = ["CommandError", "Runner", "child_env", "describe", "mask", "run", "spawn"]

# Reaping after SIGKILL of the whole group is immediate; bounded all the same.
KILL_WAIT_S = 30.0
log = logging.getLogger(__name__)



class CommandError(RuntimeError):
    """A subprocess exited non-zero; the message holds its last stderr lines (masked)."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = mask(stderr)
        tail = "\n".join(self.stderr.strip().splitlines()[-5:])
        super().__init__(f"{Path(argv[0]).name} exited with {returncode}: {tail or '(no stderr)'}")


class CommandTimeout(RuntimeError):
    """A subprocess outlived its deadline; its process group was killed."""

    def __init__(self, argv: Sequence[str], timeout_s: float) -> None:
        self.argv = list(argv)
        self.timeout_s = timeout_s
        super().__init__(f"{Path(argv[0]).name} hung: still running after its deadline of {timeout_s:g}s, "
                         f"killed its process group (timeouts.subprocess): {describe(argv)[:200]}")


def _timeouts() -> Any:
    from mercenary_maintenance.adapters import current_timeouts

    return current_timeouts().subprocess


def default_timeout() -> float:
    """``timeouts.subprocess.default_s``: the bound of a command that gives none."""
    return float(_timeouts().default_s)


def backup_timeout() -> float:
    """``timeouts.subprocess.backup_s``: the bound of pg_dump/pg_restore/pg_basebackup/… ."""
    return float(_timeouts().backup_s)


def kill_group(proc: subprocess.Popen[Any], grace_s: float | None = None) -> None:
    """SIGTERM the child's process group, SIGKILL it after ``grace_s``; reap the child."""
    grace = float(_timeouts().kill_grace_s) if grace_s is None else grace_s
    for sig, wait_s in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
            os.killpg(proc.pid, signal.SIGCONT)  # a stopped group cannot act on SIGTERM
        except ProcessLookupError:
            pass
        try:
            subprocess.Popen.wait(proc, timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def bounded_run(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = False,
    capture_output: bool = False,
    text: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` in a new session whose whole group is killed on timeout (subprocess.run
    kills only the child, then waits for pipes a grandchild may hold open forever)."""
    pipe = subprocess.PIPE if capture_output else None
    with subprocess.Popen(list(args), env=env, stdout=pipe, stderr=pipe, text=text,
                          start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            proc.communicate(timeout=KILL_WAIT_S)  # the whole group is gone: pipes close at once
            raise
        except BaseException:
            kill_group(proc)
            raise
    if check and proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, list(args), out, err)
    return subprocess.CompletedProcess(list(args), proc.returncode, out, err)


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
    runner: Runner = bounded_run,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion within ``timeout`` (default ``timeouts.subprocess.default_s``);
    raise :class:`CommandError` on a non-zero exit, :class:`CommandTimeout` at the deadline."""
    bound = default_timeout() if timeout is None else timeout
    log.info("run (deadline %gs): %s", bound, describe(argv))
    try:
        proc = runner(list(argv), env=child_env(env), timeout=bound, check=False, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        raise CommandTimeout(argv, bound) from None
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
    timeout: float | None = None,
) -> Child:
    """Start ``argv`` for streaming; the caller owns the pipes and must ``wait()``. The child is
    killed at ``timeout`` (default ``timeouts.subprocess.backup_s``), see :class:`Child`."""
    bound = backup_timeout() if timeout is None else timeout
    log.info("spawn (deadline %gs): %s", bound, describe(argv))
    return Child(argv, bound, env=child_env(env), stdin=stdin, stdout=stdout, stderr=stderr)


class Child(subprocess.Popen[bytes]):
    """A ``Popen`` with a deadline: a watchdog kills the process group when it passes, and
    ``wait()`` then raises :class:`CommandTimeout` (it never waits past the deadline)."""

    def __init__(self, argv: Sequence[str], timeout_s: float, **kwargs: Any) -> None:
        super().__init__(list(argv), start_new_session=True, **kwargs)
        self.argv = list(argv)
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.timed_out = False
        self._watchdog = threading.Timer(timeout_s, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _expire(self) -> None:
        if self.poll() is None:
            self.timed_out = True
            log.error("%s", CommandTimeout(self.argv, self.timeout_s))
            kill_group(self)

    def wait(self, timeout: float | None = None) -> int:
        left = max(0.0, self.deadline - time.monotonic())
        try:
            code = super().wait(timeout=left if timeout is None else min(timeout, left))
        except subprocess.TimeoutExpired:
            if timeout is not None and timeout < left:
                raise  # the caller's own, shorter wait
            self.timed_out = True
            kill_group(self)
            raise CommandTimeout(self.argv, self.timeout_s) from None
        self._watchdog.cancel()
        if self.timed_out:
            raise CommandTimeout(self.argv, self.timeout_s)
        return code


