"""Readers that turn a query into a polars frame quickly, per database.

- SQLite file through an engine: ADBC (rows go straight to Arrow, no Python objects per value),
  in a worker process (sqlite_worker.py: ADBC carries its own SQLite, which must never open a
  database file in the process where Python's sqlite3 has it open); frames come back as Arrow IPC;
- PostgreSQL: `COPY (query) TO STDOUT` as CSV, parsed by polars;
- anything else, or a caller's session/connection on SQLite: the DBAPI cursor (sees the
  caller's uncommitted rows; slower).
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    nullable: bool = True
    sql: str | None = None  # an expression to select instead of the column itself

    @property
    def expression(self) -> str:
        # Booleans travel as integers: SQLite has no boolean and PostgreSQL's CSV writes t/f.
        return f"CAST({self.name} AS INTEGER)" if self.dtype == pl.Boolean else (self.sql or self.name)


def _select_list(columns: Sequence[Column]) -> str:
    return ", ".join(f"{c.expression} AS {c.name}" for c in columns)


def _read_schema(columns: Sequence[Column]) -> dict[str, pl.DataType]:
    return {c.name: pl.Int64() if c.dtype == pl.Boolean else c.dtype for c in columns}


def _finish(frame: pl.DataFrame, columns: Sequence[Column]) -> pl.DataFrame:
    return frame.with_columns(pl.col(c.name).cast(pl.Boolean) for c in columns if c.dtype == pl.Boolean)


def empty_frame(columns: Sequence[Column]) -> pl.DataFrame:
    return pl.DataFrame(schema={c.name: c.dtype for c in columns})


class _Reader:
    dialect = "generic"

    def unindexed(self, column: str) -> str:
        """The column in a WHERE clause that SQLite must not use an index for (unary + disables it)."""
        return f"+{column}" if self.dialect == "sqlite" else column

    def order_by(self, columns: str) -> str:
        # On SQLite the index range scan already yields this order; elsewhere polars sorts if needed.
        return f" ORDER BY {columns}" if self.dialect == "sqlite" else ""

    def frame(self, columns: Sequence[Column], table: str, where: str, params: Sequence[Any]) -> pl.DataFrame:
        raise NotImplementedError


class _DbapiReader(_Reader):
    def __init__(self, dbapi_connection, dialect: str) -> None:
        self.connection, self.dialect = dbapi_connection, dialect

    def frame(self, columns, table, where, params):
        sql = f"SELECT {_select_list(columns)} FROM {table} WHERE {where}"
        if self.dialect != "sqlite":
            sql = sql.replace("?", "%s")
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, tuple(params))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        frame = pl.DataFrame(rows, schema=_read_schema(columns), orient="row") if rows else empty_frame(columns)
        return _finish(frame, columns)


class AdbcSqliteReader(_Reader):
    """SQLite through ADBC. It infers each column's type from the first values, so nullable
    columns travel with a sentinel in place of NULL and are restored afterwards."""

    dialect = "sqlite"
    _TEXT_NULL, _INT_NULL, _REAL_NULL = "\x01", -9_223_372_036_854_775_807, -1.7976931348623157e308

    def __init__(self, path: str, *, memory_map: bool = True) -> None:
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        self.connection = adbc_sqlite.connect(path)
        with self.connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 30000")  # wait for writers instead of failing, as the engine does
            if memory_map:
                # Index range scans jump around the table, and each jump would otherwise be a
                # read() call (halves the time when activities are stored in arrival order).
                # Sequential scans gain nothing, and mapped pages count as the process's memory.
                cursor.execute("PRAGMA mmap_size = 8589934592")

    def close(self) -> None:
        self.connection.close()

    def _expression(self, column: Column) -> str:
        name = column.expression
        if column.nullable:
            name = f"ifnull({name}, {self._sql_sentinel(column)})"
        return f"{name} AS {column.name}"

    def _sentinel(self, column: Column):
        if column.dtype == pl.String:
            return self._TEXT_NULL
        return self._REAL_NULL if column.dtype == pl.Float64 else self._INT_NULL

    def _sql_sentinel(self, column: Column) -> str:
        return "char(1)" if column.dtype == pl.String else repr(self._sentinel(column))

    def __enter__(self) -> AdbcSqliteReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _sql(self, columns: Sequence[Column], table: str, where: str) -> str:
        return f"SELECT {', '.join(self._expression(c) for c in columns)} FROM {table} WHERE {where}"

    def _restore(self, frame: pl.DataFrame, columns: Sequence[Column]) -> pl.DataFrame:
        restore = [
            pl.when(pl.col(c.name) != self._sentinel(c)).then(pl.col(c.name)).alias(c.name)
            for c in columns
            if c.nullable
        ]
        return _finish(frame.with_columns(restore).cast(_read_schema(columns)), columns)

    def frame(self, columns, table, where, params):
        with self.connection.cursor() as cursor:
            cursor.execute(self._sql(columns, table, where), tuple(params))
            table_ = cursor.fetch_arrow_table()
        if table_.num_rows == 0:
            return empty_frame(columns)
        return self._restore(pl.from_arrow(table_), columns)

    def batches(
        self, columns: Sequence[Column], table: str, where: str, params: Sequence[Any], batch_rows: int = 65_536
    ) -> Iterator[pl.DataFrame]:
        """The query's rows as a stream of frames of about `batch_rows` rows."""
        with self.connection.cursor() as cursor:
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
            cursor.execute(self._sql(columns, table, where), tuple(params))
            for batch in cursor.fetch_record_batch():
                if batch.num_rows:
                    yield self._restore(pl.from_arrow(batch), columns)


def adbc_frame(path: str, columns: Sequence[Column], table: str, where: str, params: Sequence[Any]) -> pl.DataFrame:
    """One query's frame through ADBC. Runs in a worker process (see sqlite_worker.py), never here."""
    with AdbcSqliteReader(path) as reader:
        return reader.frame(columns, table, where, params)


class WorkerSqliteReader(_Reader):
    """A SQLite file read through ADBC in a worker process: each query's rows come back as Arrow IPC.

    Each query runs in its own read transaction; the worker sees what has been committed."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path

    def frame(self, columns, table, where, params):
        from leadml.storage import sqlite_worker

        return sqlite_worker.call(f"{__name__}:adbc_frame", self.path, list(columns), table, where, tuple(params))


class _PostgresCopyReader(_Reader):
    """PostgreSQL through COPY ... TO STDOUT as CSV: one round trip, parsed by polars."""

    dialect = "postgresql"

    def __init__(self, dbapi_connection) -> None:
        self.connection = dbapi_connection

    def frame(self, columns, table, where, params):
        query = f"SELECT {_select_list(columns)} FROM {table} WHERE {where.replace('?', '%s')}"
        sql = f"COPY ({query}) TO STDOUT (FORMAT CSV)"
        buffer = io.BytesIO()
        with self.connection.cursor() as cursor, cursor.copy(sql, tuple(params)) as copy:
            for block in copy:
                buffer.write(block)
        if buffer.tell() == 0:
            return empty_frame(columns)
        buffer.seek(0)
        frame = pl.read_csv(buffer, has_header=False, schema=_read_schema(columns), quote_char='"')
        return _finish(frame, columns)


def _connection_reader(connection: Connection) -> _Reader:
    dialect = connection.dialect.name
    dbapi_connection = connection.connection.dbapi_connection
    if dialect == "postgresql" and hasattr(dbapi_connection.cursor(), "copy"):
        return _PostgresCopyReader(dbapi_connection)
    return _DbapiReader(dbapi_connection, dialect)


def sqlite_file(engine: Engine) -> str | None:
    if engine.dialect.name != "sqlite" or importlib.util.find_spec("adbc_driver_sqlite") is None:
        return None
    database = engine.url.database
    return database if database and database != ":memory:" and not database.startswith("file:") else None


@contextmanager
def open_reader(source: Engine | Connection | Session) -> Iterator[_Reader]:
    """A reader on `source`; a session or connection is read inside its own transaction."""
    if isinstance(source, Session):
        yield _connection_reader(source.connection())
    elif isinstance(source, Connection):
        yield _connection_reader(source)
    elif (path := sqlite_file(source)) is not None:
        yield WorkerSqliteReader(path)
    else:
        with source.connect() as connection:
            yield _connection_reader(connection)
