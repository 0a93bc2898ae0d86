"""Leave nothing running: SIGTERM/SIGHUP take the Ctrl-C path, and whatever a command
started is stopped on the way out (``make demo``, ``make bench``).

* :func:`signals_as_interrupt` makes SIGTERM and SIGHUP raise :class:`KeyboardInterrupt`
  (or the given exception) in the main thread, so every ``finally`` block and context
  manager on the stack runs — the same cleanup as Ctrl-C. A second signal during that
  cleanup is ignored rather than cutting it short.
* :func:`become_subreaper` (Linux) makes orphaned descendants — a PostgreSQL started by
  ``pg_ctl``, workers of a killed ``airflow dags test`` — children of this process instead of
  init, so :func:`stop_descendants` can find and stop them.
* :func:`stop_descendants` is the last resort: SIGTERM to every remaining descendant (to its
  whole process group when it leads one), SIGKILL after a grace period, zombies reaped.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType

import psutil

PR_SET_CHILD_SUBREAPER = 36
SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux ``prctl``); False where not supported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


@contextlib.contextmanager
def signals_as_interrupt(make_exc: Callable[[str], BaseException] = KeyboardInterrupt) -> Iterator[None]:
    """SIGTERM/SIGHUP raise ``make_exc(signal name)`` while inside; handlers restored after."""

    def handler(signum: int, frame: FrameType | None) -> None:
        for sig in SIGNALS:  # the cleanup this starts must not be cut short by a second signal
            signal.signal(sig, signal.SIG_IGN)
        raise make_exc(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def stop_descendants(grace_s: float = 5.0) -> list[int]:
    """Stop every process still descending from this one; returns the pids that had to be stopped."""
    me = psutil.Process()
    try:
        procs = me.children(recursive=True)
    except psutil.Error:
        return []
    alive = [p for p in procs if _running(p)]
    for proc in alive:
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == proc.pid and proc.pid != os.getpgid(0):
                os.killpg(proc.pid, signal.SIGTERM)
            else:
                proc.terminate()
    _, still = psutil.wait_procs(procs, timeout=grace_s)
    for proc in still:
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == proc.pid and proc.pid != os.getpgid(0):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.kill()
    psutil.wait_procs(still, timeout=grace_s)
    _reap_zombies()
    return [p.pid for p in alive]


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _reap_zombies() -> None:
    """Adopted orphans that exited stay zombies until waited for."""
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
