"""Request dependencies: a session per request (committed when the handler succeeds), the caller
(API key, or the page's session cookie; rate-limited) and shared parameter types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from leadml import db, errors
from leadml.api import security
from leadml.config import Settings
from leadml.ingest.schemas import MAX_ID, MAX_OFFSET
from leadml.storage import tenants
from leadml.storage.tenants import Principal

bearer = HTTPBearer(auto_error=False, description="API key of a tenant: `Authorization: Bearer <key>`")
session_cookie = APIKeyCookie(
    name=security.COOKIE, auto_error=False, scheme_name="PageSession",
    description="The ML Insights page's session cookie (set by POST /login). Writes made with it must come "
                "from the page's own origin or carry the `X-CSRF-Token` header.",
)

# Ids are INTEGER columns (32-bit on PostgreSQL); offsets fit a signed 64-bit integer.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def get_session(request: Request) -> Iterator[Session]:
    request.state.after_commit = []
    with db.transaction(request.app.state.session_factory) as session:
        yield session
    # Work that must only start once the request's changes are visible (e.g. a queued job).
    for callback in request.state.after_commit:
        callback()


# scope="function": commit before the response is sent, so a failed commit is never reported as success.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def page_principal(request: Request, session: Session) -> Principal | None:
    """The principal of the request's page-session cookie, if it carries a live one."""
    keys: security.SessionKeys = request.app.state.session_keys
    token = keys.token_of(request.cookies.get(security.COOKIE))
    return tenants.web_session_principal(session, token) if token else None


def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    cookie: Annotated[str | None, Depends(session_cookie)],
) -> Principal:
    limits = request.app.state.rate_limits
    client = security.client_address(request)
    if credentials is not None and credentials.scheme.lower() == "bearer":
        limits.check_not_locked_out(client)
        try:
            principal = tenants.authenticate_key(session, credentials.credentials)
        except errors.Unauthorized:
            limits.record_failure(client)
            raise
    elif cookie is not None:
        # The ML Insights page signs in once and carries a server-side session in its cookie.
        limits.check_not_locked_out(client)
        keys: security.SessionKeys = request.app.state.session_keys
        token = keys.token_of(cookie)
        principal = tenants.web_session_principal(session, token) if token else None
        if principal is None:
            limits.record_failure(client)
            raise errors.Unauthorized("the page session has expired, was signed out or its key was revoked")
        security.check_same_origin(request, csrf_expected=keys.csrf_token(token))
    else:
        raise errors.Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    limits.check_key(principal.api_key_id)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_tenant_id(principal: PrincipalDep) -> int:
    return principal.tenant_id


TenantDep = Annotated[int, Depends(get_tenant_id)]
