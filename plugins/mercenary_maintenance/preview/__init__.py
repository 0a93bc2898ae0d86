"""Change management: the preview of each maintenance window (what it will do, with figures,
risk and rollback), planned vs done, and approvals of risky actions in the Airflow UI."""
