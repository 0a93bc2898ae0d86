"""The one way this project runs a subprocess (pg_dump, pg_restore, pg_basebackup, …).

Commands are logged with secrets masked; the runner is injectable (``Runner``
protocol, matching :func:`subprocess.run`) so tests can observe or replace it, and
streaming callers get a :class:`subprocess.Popen` from :func:`spawn`.

Every command has a deadline. A task's :class:`Commands` (``step.runner``) carries the
``timeouts.subprocess`` section of the validated config: ``default_s`` for :meth:`Commands.run`,
``backup_s`` for :meth:`Commands.spawn`, unless the caller gives one; the module-level
:func:`run` and :func:`spawn` take the deadline explicitly (nothing here reads the config file).
Children start in a session of their own; at the deadline the whole process group gets SIGTERM, then SIGKILL after
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
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from mercenary_maintenance.redact import mask

if TYPE_CHECKING:
    from mercenary_maintenance.config import SubprocessTimeouts

__all__ = ["CommandError", "CommandTimeout", "Commands", "Runner", "child_env", "describe", "mask", "run", "spawn"]

# Reaping after SIGKILL of the whole group is immediate; bounded all the same.
KILL_WAIT_S = 30.0
# Between SIGTERM and SIGKILL when the caller gives no grace (= timeouts.subprocess.kill_grace_s's default).
DEFAULT_KILL_GRACE_S = 5.0
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


def kill_group(proc: subprocess.Popen[Any], grace_s: float) -> None:
    """SIGTERM the child's process group, SIGKILL it after ``grace_s``; reap the child."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
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
    kill_grace_s: float = DEFAULT_KILL_GRACE_S,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` in a new session whose whole group is killed on timeout (subprocess.run
    kills only the child, then waits for pipes a grandchild may hold open forever)."""
    pipe = subprocess.PIPE if capture_output else None
    with subprocess.Popen(list(args), env=env, stdout=pipe, stderr=pipe, text=text,
                          start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc, kill_grace_s)
            proc.communicate(timeout=KILL_WAIT_S)  # the whole group is gone: pipes close at once
            raise
        except BaseException:
            kill_group(proc, kill_grace_s)
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
    timeout: float,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    runner: Runner = bounded_run,
    kill_grace_s: float = DEFAULT_KILL_GRACE_S,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion within ``timeout``; raise :class:`CommandError` on a non-zero
    exit, :class:`CommandTimeout` at the deadline (``kill_grace_s``: SIGTERM to SIGKILL, for the
    default runner)."""
    bound = timeout
    log.info("run (deadline %gs): %s", bound, describe(argv))
    extra: dict[str, Any] = {"kill_grace_s": kill_grace_s} if runner is bounded_run else {}
    try:
        proc = runner(list(argv), env=child_env(env), timeout=bound, check=False, capture_output=True, text=True,
                      **extra)
    except subprocess.TimeoutExpired:
        raise CommandTimeout(argv, bound) from None
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr or "")
    return proc


def spawn(
    argv: Sequence[str],
    *,
    timeout: float,
    kill_grace_s: float = DEFAULT_KILL_GRACE_S,
    env: Mapping[str, str] | None = None,
    stdin: int | IO[Any] | None = None,
    stdout: int | IO[Any] | None = subprocess.PIPE,
    stderr: int | IO[Any] | None = subprocess.PIPE,
) -> Child:
    """Start ``argv`` for streaming; the caller owns the pipes and must ``wait()``. The child is
    killed at ``timeout``, see :class:`Child`."""
    log.info("spawn (deadline %gs): %s", timeout, describe(argv))
    return Child(argv, timeout, kill_grace_s=kill_grace_s, env=child_env(env), stdin=stdin, stdout=stdout,
                 stderr=stderr)


@dataclass(frozen=True)
class Commands:
    """A task's way to run subprocesses (``step.runner``): the deadlines of ``timeouts.subprocess``
    from the validated config, and the injectable ``run_command`` (a :class:`Runner`; tests pass a
    recording fake instead of patching)."""

    timeouts: SubprocessTimeouts
    run_command: Runner | None = None

    @property
    def backup_s(self) -> float:
        """``timeouts.subprocess.backup_s``: the bound of pg_dump/pg_restore/pg_basebackup/… ."""
        return float(self.timeouts.backup_s)

    @property
    def stall_s(self) -> float:
        """``timeouts.subprocess.stall_s``: a streaming stage without progress this long hung."""
        return float(self.timeouts.stall_s)

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        """:func:`run` with ``timeouts.subprocess.default_s`` unless ``timeout`` is given."""
        bound = float(self.timeouts.default_s) if timeout is None else timeout
        if self.run_command is not None:
            return run(argv, env=env, timeout=bound, check=check, runner=self.run_command)
        grace = float(self.timeouts.kill_grace_s)

        def bounded(args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
            return bounded_run(args, kill_grace_s=grace, **kwargs)

        return run(argv, env=env, timeout=bound, check=check, runner=bounded)

    def spawn(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              stdin: int | IO[Any] | None = None, stdout: int | IO[Any] | None = subprocess.PIPE,
              stderr: int | IO[Any] | None = subprocess.PIPE, timeout: float | None = None) -> Child:
        """:func:`spawn` with ``timeouts.subprocess.backup_s`` unless ``timeout`` is given."""
        return spawn(argv, timeout=self.backup_s if timeout is None else timeout,
                     kill_grace_s=float(self.timeouts.kill_grace_s), env=env, stdin=stdin, stdout=stdout,
                     stderr=stderr)


class Child(subprocess.Popen[bytes]):
    """A ``Popen`` with a deadline: a watchdog kills the process group when it passes, and
    ``wait()`` then raises :class:`CommandTimeout` (it never waits past the deadline)."""

    def __init__(self, argv: Sequence[str], timeout_s: float, *, kill_grace_s: float, **kwargs: Any) -> None:
        super().__init__(list(argv), start_new_session=True, **kwargs)
        self.argv = list(argv)
        self.timeout_s = timeout_s
        self.kill_grace_s = kill_grace_s
        self.deadline = time.monotonic() + timeout_s
        self.timed_out = False
        self._watchdog = threading.Timer(timeout_s, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _expire(self) -> None:
        if self.poll() is None:
            self.timed_out = True
            log.error("%s", CommandTimeout(self.argv, self.timeout_s))
            kill_group(self, self.kill_grace_s)

    def wait(self, timeout: float | None = None) -> int:
        left = max(0.0, self.deadline - time.monotonic())
        try:
            code = super().wait(timeout=left if timeout is None else min(timeout, left))
        except subprocess.TimeoutExpired:
            if timeout is not None and timeout < left:
                raise  # the caller's own, shorter wait
            self.timed_out = True
            kill_group(self, self.kill_grace_s)
            raise CommandTimeout(self.argv, self.timeout_s) from None
        self._watchdog.cancel()
        if self.timed_out:
            raise CommandTimeout(self.argv, self.timeout_s)
        return code


