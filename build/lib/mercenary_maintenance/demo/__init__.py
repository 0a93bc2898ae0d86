"""``make demo``: the whole plan on loopback servers, every DAG run once, a summary.

``python -m mercenary_maintenance.demo [--serve] [--dags a,b] [--dir .demo]``; see
:mod:`mercenary_maintenance.demo.run`.
"""
