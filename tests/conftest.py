"""Shared fixtures: a migrated database on SQLite and (when the test command started one) PostgreSQL."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from leadml import db, migrate
from leadml.config import Settings
from leadml.storage import tenants
from leadml.storage.tables import Base

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
POSTGRES_URL = os.environ.get("LEADML_TEST_POSTGRES_URL")


def shared_data(*parts: str) -> Path:
    """A real data set beside the project. Absent: skipped locally, but under CI=true the run fails,
    so that a green CI run always includes the real-data quality tests."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        where = f"../shared/data is absent ({'/'.join(parts)} not found beside the project)"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"{where}: under CI=true the real-data quality tests must run", pytrace=False)
        pytest.skip(f"{where}: real-data test skipped")
    return path


@pytest.fixture(scope="session")
def postgres_database_url():
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not started: run the tests with scripts/test.sh (it starts a throw-away server)")
    name = f"leadml_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    if request.param == "sqlite":
        eng = db.make_engine(f"sqlite:///{tmp_path / 'leadml.db'}")
        migrate.upgrade(eng)
    else:
        eng = db.make_engine(request.getfixturevalue("postgres_database_url"))
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with eng.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path):
    eng = db.make_engine(f"sqlite:///{tmp_path / 'leadml.db'}")
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine):
    return db.make_session_factory(engine)


@pytest.fixture
def settings(tmp_path):
    return Settings(database_url="sqlite://unused", data_dir=tmp_path / "var", session_secret="test-secret-0123456789abcdef0123456789")


@pytest.fixture
def app(engine, settings):
    from leadml.api.app import create_app

    return create_app(settings, engine=engine)


@pytest.fixture
def make_tenant(sessions):
    """make_tenant(name) -> headers dict carrying a new tenant's API key."""

    def make(name: str | None = None) -> dict[str, str]:
        with db.transaction(sessions) as session:
            _tenant, key = tenants.create_tenant(session, name=name or f"tenant-{uuid.uuid4().hex[:6]}")
        return {"Authorization": f"Bearer {key}"}

    return make


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client
