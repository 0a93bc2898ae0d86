"""A SimpleAuthManager that can say "this user may read only these DAGs" — for tests only.

Airflow's SimpleAuthManager knows four roles (viewer, user, op, admin) and, in multi-team
mode, teams per DAG bundle; it cannot grant one user one DAG. The console's authorization
(``console/auth.py``) asks the auth manager the standard questions (``is_authorized_dag``,
``filter_authorized_dag_ids``), so a test needs an auth manager that answers them per DAG.
Production uses its own (FAB, Keycloak, AWS): they answer the same calls from their roles.

Configured with ``AIRFLOW__CORE__AUTH_MANAGER=mercenary_dev.authz.PerDagAuthManager`` and
``MM_DAG_ACCESS='{"alice": ["maintenance_daily"]}'``: a user named there may read (and act on)
only the DAGs listed, on top of the role's rules; users not named keep their role's rules.
"""

from __future__ import annotations

import json
import os
from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

ENV = "MM_DAG_ACCESS"


def dag_access() -> dict[str, set[str]]:
    """The per-user DAG lists of ``$MM_DAG_ACCESS`` (JSON: user → list of dag ids)."""
    return {user: set(dags) for user, dags in json.loads(os.environ.get(ENV) or "{}").items()}


class PerDagAuthManager(SimpleAuthManager):
    def is_authorized_dag(self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        allowed = dag_access().get(user.get_name())
        # No DAG named (Airflow's "may this user see DAGs at all", e.g. the DAG list): the role decides.
        if allowed is not None and details is not None and details.id is not None and details.id not in allowed:
            return False
        return bool(super().is_authorized_dag(method=method, user=user, access_entity=access_entity,
                                              details=details))
