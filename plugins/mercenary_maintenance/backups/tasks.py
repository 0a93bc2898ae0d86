"""Task builders of the backups area (called inside a maintenance DAG; they only wire tasks).

Not implemented yet: each builder adds no task, so no DAG pretends to do this work.
"""

from __future__ import annotations


def full() -> None:
    """Not implemented yet (adds no task)."""
    return None


def incremental() -> None:
    """Not implemented yet (adds no task)."""
    return None


def daily_verification() -> None:
    """Not implemented yet (adds no task)."""
    return None


def weekly_restore_test() -> None:
    """Not implemented yet (adds no task)."""
    return None


def monthly_restore_test() -> None:
    """Not implemented yet (adds no task)."""
    return None
