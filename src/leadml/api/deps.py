"""Request dependencies: a session per request (committed when the handler succeeds) and the tenant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from leadml import db, errors
from leadml.config import Settings
from leadml.storage import tenants

bearer = HTTPBearer(auto_error=False, description="API key of a tenant: `Authorization: Bearer <key>`")


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


def get_tenant_id(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> int:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return tenants.tenant_id_for_key(session, credentials.credentials)
    # The ML Insights page signs in once and carries the tenant in its session cookie.
    tenant_id = request.session.get("tenant_id") if "session" in request.scope else None
    if tenant_id is not None:
        return int(tenant_id)
    raise errors.Unauthorized("missing API key: send `Authorization: Bearer <key>`")


TenantDep = Annotated[int, Depends(get_tenant_id)]
