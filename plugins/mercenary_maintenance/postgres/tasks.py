"""Task builders of the postgres area (called inside a maintenance DAG; they only wire tasks).

Not implemented yet: each builder adds no task, so no DAG pretends to do this work.
"""

from __future__ import annotations


def daily() -> None:
    """Not implemented yet (adds no task)."""
    return None


def weekly() -> None:
    """Not implemented yet (adds no task)."""
    return None


def monthly() -> None:
    """Not implemented yet (adds no task)."""
    return None
