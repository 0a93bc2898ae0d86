"""Approvals of risky actions in Airflow's Required Actions (human-in-the-loop operators)."""
