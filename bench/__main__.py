"""``make bench`` = ``python -m bench [name …]``: run every ``bench/bench_*.py`` (or those
whose name contains one of the arguments) and print a final table of all results."""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

from bench._common import RESULTS

HERE = Path(__file__).resolve().parent


def selected(argv: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if argv:
        names = [n for n in names if any(arg in n for arg in argv)]
    return names


def main(argv: list[str]) -> int:
    """SIGTERM/SIGHUP take the Ctrl-C path (each benchmark's ``finally`` stops its servers);
    then whatever is still running below this process is stopped: nothing is left behind."""
    from mercenary_dev.shutdown import become_subreaper, signals_as_interrupt, stop_descendants

    become_subreaper()  # a pg_ctl-started PostgreSQL stays visible as our descendant
    try:
        with signals_as_interrupt():
            return run_all(argv)
    except KeyboardInterrupt as exc:
        print(f"\ninterrupted ({exc or 'SIGINT'}); stopping everything the benchmarks started", file=sys.stderr,
              flush=True)
        return 130
    finally:
        left = stop_descendants()
        if left:
            print(f"stopped leftover processes: {left}", file=sys.stderr, flush=True)


def run_all(argv: list[str]) -> int:
    names = selected(argv)
    if not names:
        print(f"no benchmark matches {argv}; have: {selected([])}", file=sys.stderr)
        return 2
    failures: list[str] = []
    started = time.perf_counter()
    for name in names:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            code = importlib.import_module(f"bench.{name}").main()
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            code = 1
        if code:
            failures.append(name)
        print(f"== {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    print("\nResults")
    width = max((len(r.name) for r in RESULTS), default=10)
    print(f"{'benchmark':<{width}}  {'baseline s':>10}  {'ours s':>9}  {'ratio':>6}  target")
    for r in RESULTS:
        print(f"{r.name:<{width}}  {r.baseline_s:>10.3f}  {r.ours_s:>9.3f}  {r.ratio:>6.2f}  "
              f"{r.target} {'ok' if r.ok else 'MISSED'}")
    print(f"total {time.perf_counter() - started:.0f} s; errors in: {', '.join(failures) or 'none'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
