"""Column types shared by SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger
from sqlalchemy.types import TypeDecorator


class EpochMillis(TypeDecorator):
    """A timezone-aware datetime stored as integer milliseconds since the epoch (UTC).

    Integers make bulk reads of millions of activities cheap on both databases and keep
    comparisons exact; naive datetimes are refused rather than guessed.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, int):
            return value
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a timezone-aware one is required")
        return int(round(value.timestamp() * 1000))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return datetime.fromtimestamp(value / 1000, tz=UTC)


def to_millis(value: datetime) -> int:
    return int(round(value.timestamp() * 1000))


def from_millis(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)
