"""DAG parse cost as Airflow's DAG processor pays it: a fresh ``python`` per DAG file that
builds a DagBag of just that file, against the same for a trivial one-task DAG file
(target ≤ 1.15× each); and all DAG files parsed warm in one process (target < 0.5 s).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import ROOT, TRIVIAL_DAG, airflow_env, report, timed_process

RUNS = 3
RATIO_TARGET = 1.15
WARM_TARGET_S = 0.5


# What one DAG processor child does for one file: import DagBag, parse the file.
PARSE_ONE = textwrap.dedent('''
    import sys
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    if bag.import_errors or not bag.dags:
        raise SystemExit(f"parse failed: {bag.import_errors}")
''')

WARM_ALL = textwrap.dedent('''
    import sys, time
    from airflow.dag_processing.dagbag import DagBag
    DagBag(dag_folder=sys.argv[1])  # cold: imports
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        bag = DagBag(dag_folder=sys.argv[1])
        best = min(best, time.perf_counter() - t)
    assert not bag.import_errors, bag.import_errors
    print("RESULT", best, len(bag.dags))
''')


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as tmp:
        home = Path(tmp)
        trivial_dir = home / "trivial"
        trivial_dir.mkdir()
        trivial = trivial_dir / "trivial_dag.py"
        trivial.write_text(TRIVIAL_DAG)
        env = airflow_env(home)

        def parse(path: Path) -> float:
            return timed_process([sys.executable, "-c", PARSE_ONE, str(path)], env)

        parse(trivial)  # warm the OS page cache for both sides
        for dag_file in sorted((ROOT / "dags").glob("*.py")):
            # Side by side: each run of the file next to a run of the trivial DAG, so a change in the
            # machine's load moves both sides of the ratio (one baseline for all files did not).
            pairs = [(parse(trivial), parse(dag_file)) for _ in range(RUNS)]
            baseline = statistics.median(b for b, _ in pairs)
            ours = statistics.median(o for _, o in pairs)
            report(f"parse {dag_file.name} (fresh process)", baseline, ours, f"≤ {RATIO_TARGET}×",
                   ours / baseline <= RATIO_TARGET)

        def warm(folder: Path) -> tuple[float, int]:
            stdout = subprocess.run([sys.executable, "-c", WARM_ALL, str(folder)], env=env, capture_output=True,
                                    text=True, check=True).stdout
            # Airflow logs to stdout too: take our marked line.
            _, best, count = next(line for line in stdout.splitlines() if line.startswith("RESULT ")).split()
            return float(best), int(count)

        # Baseline for the warm case: as many trivial files as there are DAG files.
        dag_files = sorted((ROOT / "dags").glob("*.py"))
        many = home / "many"
        many.mkdir()
        for i in range(len(dag_files)):
            (many / f"trivial_{i}.py").write_text(TRIVIAL_DAG.replace('"trivial"', f'"trivial_{i}"'))
        warm_base, _ = warm(many)
        warm_ours, count = warm(ROOT / "dags")
        report(f"parse all {count} DAGs warm (one process)", warm_base, warm_ours, f"< {WARM_TARGET_S} s",
               warm_ours < WARM_TARGET_S)
    return 0


if __name__ == "__main__":
    sys.exit(main())
