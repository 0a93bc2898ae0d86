"""Task builders of the emergency area (called inside a maintenance DAG; they only wire tasks).

Not implemented yet: each builder adds no task, so no DAG pretends to do this work.
"""

from __future__ import annotations


def build() -> None:
    """Not implemented yet (adds no task)."""
    return None
