"""Task builders of the alerts area (called inside a maintenance DAG; they only wire tasks)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import task


@task(task_id="evaluate_alerts")
def evaluate_alerts() -> dict[str, Any]:
    """host.cpu, host.memory, host.disk_usage, app.error_rate, app.latency_p95 against the
    plan's thresholds, with `for`, dedup, inhibition, escalation and resolved notices to Slack."""
    from mercenary_maintenance.alerts.evaluation import run_evaluation
    from mercenary_maintenance.steps import execute_step

    return execute_step(run_evaluation)


def evaluate() -> Any:
    return evaluate_alerts()
