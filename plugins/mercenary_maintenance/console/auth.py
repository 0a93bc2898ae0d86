"""Every console route requires an authenticated Airflow user.

Airflow does not authenticate plugin routes, so the console does it with Airflow's own
machinery: the api-server's JWT, as ``Authorization: Bearer <token>`` (scripts,
Prometheus) or as the UI's ``_token`` cookie (the nav entry and the run tab are iframes of
the same origin), validated by the configured auth manager (``get_user_from_token``:
signature, expiry, audience, revocation). A user the api-server's own refresh middleware
already authenticated on this request is accepted as it is. No token, or an invalid or
expired one → 401.

Authentication is not authorization: what a user sees is limited to the DAGs the auth
manager lets them read (:class:`DagScope`): a report of a DAG they may not read is a 403,
and every list, chart and metric leaves out the runs of the DAGs they may not read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

BEARER = "bearer"


def _token(request: Request) -> str | None:
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == BEARER and credentials.strip():
        return credentials.strip()
    return request.cookies.get(COOKIE_NAME_JWT_TOKEN) or None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail=detail,
                         headers={"WWW-Authenticate": "Bearer"})


async def require_user(request: Request) -> Any:
    """FastAPI dependency: the Airflow user of this request, or 401."""
    from jwt import InvalidTokenError

    explicit = request.headers.get("authorization", "").lower().startswith(BEARER + " ")
    if not explicit:
        try:
            from airflow.api_fastapi.core_api.security import USER_INJECTED_BY_TRUSTED_MIDDLEWARE
        except ImportError:  # pragma: no cover - older Airflow without the marker
            pass
        else:
            user = getattr(request.state, "user", None)
            if user is not None and getattr(request.state, "user_authenticated_via", None) \
                    is USER_INJECTED_BY_TRUSTED_MIDDLEWARE:
                return user
    token = _token(request)
    if token is None:
        raise _unauthorized("Not authenticated: send the api-server's JWT as a Bearer token or log in to Airflow")
    from airflow.api_fastapi.app import get_auth_manager

    try:
        return await get_auth_manager().get_user_from_token(token)
    except InvalidTokenError as exc:
        raise _unauthorized(f"Invalid or expired token ({type(exc).__name__})") from None


class DagScope:
    """The DAGs one user may read, asked of the configured auth manager (memoized per request).

    A DAG's maintenance reports are its runs' data, so the question is Airflow's own for a
    DAG run: ``is_authorized_dag(method="GET", access_entity=RUN, details=DagDetails(id))``.
    Lists first go through ``filter_authorized_dag_ids`` (the batch call auth managers
    implement efficiently) and then that same per-run check, so a list never shows what the
    single report would refuse. In multi-team mode only DAGs of
    ``get_authorized_dag_ids`` (team-aware: it reads each DAG's bundle team) qualify at all.
    """

    def __init__(self, user: Any, manager: Any = None, multi_team: bool | None = None) -> None:
        if manager is None:
            from airflow.api_fastapi.app import get_auth_manager

            manager = get_auth_manager()
        if multi_team is None:
            from airflow.configuration import conf

            multi_team = conf.getboolean("core", "multi_team", fallback=False)
        self.user, self.manager = user, manager
        self._known: dict[str, bool] = {}
        # Multi-team mode: a DAG's team comes from its bundle in the metadata database, which only
        # get_authorized_dag_ids knows (the api-server may query it; tasks may not).
        self._team_dags: set[str] | None = (set(manager.get_authorized_dag_ids(user=user, method="GET"))
                                            if multi_team else None)

    def allows(self, dag_id: str) -> bool:
        if self._team_dags is not None and dag_id not in self._team_dags:
            return False
        if dag_id not in self._known:
            from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

            self._known[dag_id] = bool(self.manager.is_authorized_dag(
                method="GET", access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id), user=self.user))
        return self._known[dag_id]

    def readable(self, dag_ids: Iterable[str]) -> frozenset[str]:
        wanted = set(dag_ids)
        unknown = wanted - self._known.keys()
        if unknown:
            listed = set(self.manager.filter_authorized_dag_ids(dag_ids=unknown, user=self.user, method="GET"))
            for dag_id in unknown - listed:
                self._known[dag_id] = False
        return frozenset(d for d in wanted if self.allows(d))


async def dag_scope(user: Annotated[Any, Depends(require_user)]) -> DagScope:
    """FastAPI dependency: what this request's user may read."""
    return DagScope(user)
