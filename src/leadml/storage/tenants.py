"""Tenants, API keys and signed-in page sessions.

Keys are shown once and stored as SHA-256 hashes. A page session is a random token in an HTTP-only
cookie; only its hash is stored, with the key that opened it: revoking the key or signing out ends
it at once, and it expires on its own after the configured lifetime.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadml import errors
from leadml.storage.tables import ApiKey, ServerSecret, Tenant, WebSession

KEY_PREFIX = "lml_"


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: the tenant and the API key (directly, or through a page session)."""

    tenant_id: int
    api_key_id: int


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8", "surrogatepass")).hexdigest()


def create_tenant(session: Session, *, name: str) -> tuple[Tenant, str]:
    """Create a tenant and its first API key; returns (tenant, raw key)."""
    name = name.strip()
    if not name:
        raise errors.InvalidInput("tenant name must not be empty")
    if session.scalar(select(Tenant).where(Tenant.name == name)) is not None:
        raise errors.Conflict(f"tenant {name!r} already exists")
    tenant = Tenant(name=name, created_at=datetime.now(UTC))
    session.add(tenant)
    session.flush()
    return tenant, create_api_key(session, tenant_id=tenant.id)


def create_api_key(session: Session, *, tenant_id: int) -> str:
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(tenant_id=tenant_id, key_hash=hash_key(raw), prefix=raw[:12], created_at=datetime.now(UTC)))
    session.flush()
    return raw


# Every authenticated request runs this: built once (building costs more than running it).
_PRINCIPAL_OF_KEY = select(ApiKey.tenant_id, ApiKey.id).where(
    ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked.is_(False))


def authenticate_key(session: Session, raw_key: str) -> Principal:
    row = session.execute(_PRINCIPAL_OF_KEY, {"key_hash": hash_key(raw_key)}).first()
    if row is None:
        raise errors.Unauthorized("invalid or revoked API key")
    return Principal(tenant_id=row[0], api_key_id=row[1])


def tenant_id_for_key(session: Session, raw_key: str) -> int:
    return authenticate_key(session, raw_key).tenant_id


def list_keys(session: Session, *, tenant_id: int) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)))


def revoke_key(session: Session, *, tenant_id: int, key: str) -> int:
    """Revoke a tenant's key given in full or by its shown prefix; its page sessions end with it.
    Returns how many keys were revoked (a prefix matching several keys is refused)."""
    key = key.strip()
    if key.startswith(KEY_PREFIX) and len(key) > 16:
        matches = list(session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant_id,
                                                            ApiKey.key_hash == hash_key(key))))
    else:
        matches = [k for k in list_keys(session, tenant_id=tenant_id) if k.prefix.startswith(key)] if key else []
    if not matches:
        raise errors.NotFound("no such API key for this tenant")
    if len(matches) > 1:
        raise errors.InvalidInput("that prefix matches several keys; give more of the key",
                                  details=[k.prefix for k in matches])
    for api_key in matches:
        api_key.revoked = True
        session.execute(delete(WebSession).where(WebSession.api_key_id == api_key.id))
    session.flush()
    return len(matches)


def get_tenant_by_name(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise errors.NotFound(f"tenant {name!r} not found")
    return tenant


# --- page sessions -----------------------------------------------------------------------------

def open_web_session(session: Session, *, principal: Principal, lifetime: timedelta,
                     now: datetime | None = None) -> str:
    """Store a new page session for the key; returns its raw token (for the cookie only)."""
    now = now or datetime.now(UTC)
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))  # tidy up expired ones
    token = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=hash_key(token), tenant_id=principal.tenant_id,
                           api_key_id=principal.api_key_id, created_at=now, expires_at=now + lifetime))
    session.flush()
    return token


def web_session_principal(session: Session, token: str, *, now: datetime | None = None) -> Principal | None:
    """The principal of a live page session: not expired, not signed out, its key not revoked."""
    now = now or datetime.now(UTC)
    row = session.execute(
        select(WebSession.tenant_id, WebSession.api_key_id)
        .join(ApiKey, ApiKey.id == WebSession.api_key_id)
        .where(WebSession.token_hash == hash_key(token), WebSession.expires_at > now, ApiKey.revoked.is_(False),
               ApiKey.tenant_id == WebSession.tenant_id)
    ).first()
    return Principal(tenant_id=row[0], api_key_id=row[1]) if row is not None else None


def close_web_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == hash_key(token)))
    session.flush()


# --- per-installation secrets ----------------------------------------------------------------------

def installation_secret(session: Session, name: str) -> str:
    """A random secret generated once per installation (database) and kept; concurrent first calls
    from several processes agree on one value."""
    existing = session.get(ServerSecret, name)
    if existing is not None:
        return existing.value
    try:
        with session.begin_nested():
            session.add(ServerSecret(name=name, value=secrets.token_urlsafe(48), created_at=datetime.now(UTC)))
    except IntegrityError:
        pass  # another process stored it first
    return session.scalars(select(ServerSecret.value).where(ServerSecret.name == name)).one()
