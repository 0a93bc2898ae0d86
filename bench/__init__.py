"""Benchmarks: each ``bench_<name>.py`` has ``main() -> int``; ``python -m bench`` runs them all."""
