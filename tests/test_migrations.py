"""The Alembic migrations build exactly the schema the ORM tables describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from leadml.storage.tables import Base


def test_migrated_schema_matches_the_tables(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
