"""Feature tables for the bulk pipeline, chunk by chunk, for all of a config's leads or chosen ones.

On a SQLite file the whole-config stream runs in a child process that hands each chunk over as an
Arrow IPC file: the fast SQLite reader (ADBC) carries its own SQLite library, which must not share a
process with the one the writes go through (see NOTES: closing it can delete the WAL under the
other), and the child computes the next chunk's features while this process predicts and writes
the current one, so both cores work. Elsewhere (PostgreSQL) the stream runs in this process.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from leadml.features.table import extract_feature_table
from leadml.storage import feature_frames

_DONE = "done"


def for_leads(source: Engine | Session, *, config_id: int, lead_ids: Sequence[int], as_of: datetime, timezone: str,
              custom_attributes: Sequence[str] | None, attribute_kinds: Mapping[str, Any] | None,
              chunk_leads: int) -> Iterator[pl.DataFrame]:
    """Features of the chosen leads (any order given; chunks in id order), read by id."""
    ids = sorted(set(int(i) for i in lead_ids))
    for start in range(0, len(ids), chunk_leads):
        batch = ids[start:start + chunk_leads]
        leads = feature_frames.load_lead_frame(source, config_id=config_id, lead_ids=batch,
                                               attribute_kinds=attribute_kinds, attributes=custom_attributes)
        activities = feature_frames.load_activity_frame(source, config_id=config_id, lead_ids=batch)
        yield extract_feature_table(leads, activities, as_of=as_of, timezone=timezone,
                                    custom_attributes=custom_attributes, attribute_kinds=attribute_kinds)


def _child(url: str, directory: str, queue, kwargs: dict[str, Any]) -> None:
    from leadml import db

    engine = db.make_engine(url)
    try:
        for index, frame in enumerate(feature_frames.compute_features_for_config(engine, **kwargs)):
            path = Path(directory) / f"features-{index}.arrow"
            frame.write_ipc(path)
            queue.put(str(path))
        queue.put(_DONE)
    except BaseException as exc:  # the parent re-raises it
        queue.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        engine.dispose()


def for_config(engine: Engine, *, config_id: int, as_of: datetime, timezone: str,
               custom_attributes: Sequence[str] | None, attribute_kinds: Mapping[str, Any] | None,
               chunk_leads: int, separate_process: bool | None = None) -> Iterator[pl.DataFrame]:
    """Features of every lead of the config, one frame per chunk of `chunk_leads` leads by id."""
    kwargs = dict(config_id=config_id, as_of=as_of, timezone=timezone, chunk_leads=chunk_leads,
                  custom_attributes=custom_attributes, attribute_kinds=attribute_kinds)
    if separate_process is None:
        separate_process = feature_frames.sqlite_file(engine) is not None
    if not separate_process:
        yield from feature_frames.compute_features_for_config(engine, **kwargs)
        return
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="leadml-bulk-") as directory:
        queue = context.Queue(maxsize=2)  # at most two chunks wait on disk: memory and disk stay bounded
        url = engine.url.render_as_string(hide_password=False)
        child = context.Process(target=_child, args=(url, directory, queue, kwargs), daemon=True)
        child.start()
        try:
            while True:
                item = queue.get()
                if item == _DONE:
                    break
                if isinstance(item, tuple):
                    raise RuntimeError(f"feature computation failed: {item[1]}")
                frame = pl.read_ipc(item)
                Path(item).unlink()
                yield frame
        finally:
            if child.is_alive():
                child.terminate()
            child.join()
