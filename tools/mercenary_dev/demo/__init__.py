"""``make demo``: the whole plan on loopback servers, every DAG run once, a summary.

``python -m mercenary_dev.demo [--serve] [--dags a,b] [--dir .demo]``; see
:mod:`mercenary_dev.demo.run`.
"""
