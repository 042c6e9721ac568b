"""Activities for the bulk feature path: packed reads, and one sequential pass split by lead chunk.

Each activity travels as lead_id plus one integer packing its time, type and direction
(occurred_at * 32 + type code * 4 + direction code): half the values to convert and no strings.
Ingestion stores canonical lower-case names; other spellings are normalised in SQL.

Reading a chunk of leads through the (lead_id, occurred_at) index is fast when the activities
table is stored roughly by lead, but jumps around the table when it is stored in arrival order
(the usual case for a CRM feed): about four times slower. `ActivityPartitions` instead scans the
table once, sequentially, in two parallel rowid ranges, and appends each chunk's rows to its own
temporary Arrow files, so the cost no longer depends on the storage order. The scans run in
SQLite worker processes (see sqlite_worker.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from leadml.features.activity_rules import INBOUND, OUTBOUND
from leadml.features.inputs import KNOWN_ACTIVITY_TYPES
from leadml.storage import sqlite_worker
from leadml.storage.feature_readers import AdbcSqliteReader, Column, WorkerSqliteReader

ACTIVITY_TYPE_ENUM = pl.Enum([*KNOWN_ACTIVITY_TYPES, "other"])
DIRECTION_ENUM = pl.Enum([INBOUND, OUTBOUND])
_FLUSH_ROWS = 2_000_000  # rows gathered before they are split and written out


def _code_sql(column: str, names: Sequence[str], default: int) -> str:
    cases = " ".join(f"WHEN '{name}' THEN {code}" for code, name in enumerate(names))
    return f"CASE {column} {cases} ELSE (CASE lower(trim({column})) {cases} ELSE {default} END) END"


PACKED_ACTIVITY_COLUMNS = (
    Column("lead_id", pl.Int64(), nullable=False),
    Column(
        "packed",
        pl.Int64(),
        nullable=False,
        sql=(
            f"occurred_at * 32 + ({_code_sql('type', KNOWN_ACTIVITY_TYPES, len(KNOWN_ACTIVITY_TYPES))}) * 4"
            f" + ({_code_sql('direction', (INBOUND, OUTBOUND), 2)})"
        ),
    ),
)


def unpack_activities(packed: pl.DataFrame) -> pl.DataFrame:
    """(lead_id, packed) -> lead_id, type (ACTIVITY_TYPE_ENUM), occurred_at (epoch ms), direction."""
    types = pl.Series([*KNOWN_ACTIVITY_TYPES, "other"], dtype=ACTIVITY_TYPE_ENUM)
    directions = pl.Series([INBOUND, OUTBOUND, None], dtype=DIRECTION_ENUM)
    code = pl.col("packed").mod(32)
    return packed.select(
        "lead_id",
        pl.lit(types).gather(code.floordiv(4)).alias("type"),
        pl.col("packed").floordiv(32).alias("occurred_at"),
        pl.lit(directions).gather(code.mod(4)).alias("direction"),
    )


class ActivityPartitions:
    """A config's activities split by lead chunk into Arrow files under `directory`, in one pass.

    The scans run in SQLite worker processes (ADBC carries its own SQLite: see sqlite_worker.py),
    which split their rows by chunk and write the files themselves; this process only reads them.
    """

    def __init__(self, path: str, *, config_id: int, chunk_firsts: Sequence[int], directory: Path, workers: int = 2):
        self.directory = directory
        self._files: dict[int, list[tuple[int, int, Path]]] = {}
        low, high = WorkerSqliteReader(path).frame(
            [
                Column("low", pl.Int64(), nullable=True, sql="min(id)"),
                Column("high", pl.Int64(), nullable=True, sql="max(id)"),
            ],
            "activities",
            "1 = 1",
            (),
        ).row(0)
        if low is None or not chunk_firsts:
            return
        step = (high - low) // workers + 1
        ranges = [(low + i * step, min(low + (i + 1) * step - 1, high)) for i in range(workers)]
        firsts = [int(f) for f in chunk_firsts]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="activity-scan") as pool:
            futures = [
                pool.submit(sqlite_worker.call, f"{__name__}:scan_range", path, config_id, i, r, firsts, str(directory))
                for i, r in enumerate(ranges)
            ]
            for future in futures:
                for index, worker, flush, file in future.result():
                    self._files.setdefault(index, []).append((worker, flush, Path(file)))

    def load(self, index: int) -> pl.DataFrame:
        """The chunk's activities in storage order (sorted by lead and time when stored that way)."""
        files = sorted(self._files.get(index, []))
        if not files:
            return unpack_activities(pl.DataFrame(schema={"lead_id": pl.Int64, "packed": pl.Int64}))
        frame = pl.concat([pl.read_ipc(path) for _, _, path in files])
        for _, _, path in files:
            path.unlink()
        return unpack_activities(frame)


def scan_range(
    path: str, config_id: int, worker: int, id_range: tuple[int, int], chunk_firsts: list[int], directory: str
) -> list[tuple[int, int, int, str]]:
    """Runs in a SQLite worker process: a sequential walk of the activities in `id_range` by rowid,
    split by lead chunk into Arrow files. Returns (chunk index, worker, flush, file) per file."""
    firsts = pl.Series(chunk_firsts, dtype=pl.Int64)
    written: list[tuple[int, int, int, str]] = []

    def write(frame: pl.DataFrame, flush: int) -> None:
        chunk = firsts.search_sorted(frame.get_column("lead_id"), side="right") - 1
        for (index,), part in frame.with_columns(chunk.alias("_chunk")).partition_by("_chunk", as_dict=True).items():
            if index < 0:  # a lead id below the first chunk: not one of the config's leads
                continue
            file = Path(directory) / f"chunk{index}-w{worker}-{flush}.arrow"
            part.drop("_chunk").write_ipc(file)
            written.append((int(index), worker, flush, str(file)))

    with AdbcSqliteReader(path, memory_map=False) as reader:
        batches, rows, flush = [], 0, 0
        # `+config_id` keeps SQLite off the config index.
        for batch in reader.batches(
            PACKED_ACTIVITY_COLUMNS, "activities", "id BETWEEN ? AND ? AND +config_id = ?", (*id_range, config_id)
        ):
            batches.append(batch)
            rows += batch.height
            if rows >= _FLUSH_ROWS:
                write(pl.concat(batches), flush)
                batches, rows, flush = [], 0, flush + 1
        if batches:
            write(pl.concat(batches), flush)
    return written
