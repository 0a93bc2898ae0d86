"""Every console route requires an authenticated Airflow user.

Airflow does not authenticate plugin routes, so the console does it with Airflow's own
machinery: the api-server's JWT, as ``Authorization: Bearer <token>`` (scripts,
Prometheus) or as the UI's ``_token`` cookie (the nav entry and the run tab are iframes of
the same origin), validated by the configured auth manager (``get_user_from_token``:
signature, expiry, audience, revocation). A user the api-server's own refresh middleware
already authenticated on this request is accepted as it is. No token, or an invalid or
expired one → 401.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status

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
