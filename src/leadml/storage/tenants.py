"""Tenants and API keys. Keys are shown once and stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from leadml import errors
from leadml.storage.tables import ApiKey, Tenant

KEY_PREFIX = "lml_"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


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
_TENANT_OF_KEY = select(ApiKey.tenant_id).where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked.is_(False))


def tenant_id_for_key(session: Session, raw_key: str) -> int:
    row = session.execute(_TENANT_OF_KEY, {"key_hash": hash_key(raw_key)}).first()
    if row is None:
        raise errors.Unauthorized("invalid or revoked API key")
    return row[0]


def get_tenant_by_name(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise errors.NotFound(f"tenant {name!r} not found")
    return tenant
