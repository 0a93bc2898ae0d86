"""Task builders of the reviews area (called inside a maintenance DAG; they only wire tasks).

Not implemented yet: each builder adds no task, so no DAG pretends to do this work.
"""

from __future__ import annotations


def monthly() -> None:
    """Not implemented yet (adds no task)."""
    return None


def quarterly() -> None:
    """Not implemented yet (adds no task)."""
    return None
