"""Feature tables for the bulk pipeline, chunk by chunk, for all of a config's leads or chosen ones.

On a SQLite file the whole-config stream runs in a child process that hands each chunk over as an
Arrow IPC file: the fast SQLite reader (ADBC) carries its own SQLite library, which must not share a
process with the one the writes go through (see NOTES: closing it can delete the WAL under the
other), and the child computes the next chunk's features while this process predicts and writes
the current one, so both cores work. Elsewhere (PostgreSQL) the stream runs in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def _child_main() -> None:
    """The child: compute the features chunk by chunk, write each as an Arrow file, print its path."""
    import json
    import sys

    from leadml import db

    spec = json.loads(sys.stdin.readline())
    kwargs = spec["kwargs"]
    kwargs["as_of"] = datetime.fromisoformat(kwargs["as_of"])
    engine = db.make_engine(spec["url"])
    try:
        for index, frame in enumerate(feature_frames.compute_features_for_config(engine, **kwargs)):
            path = Path(spec["directory"]) / f"features-{index}.arrow"
            frame.write_ipc(path)
            del frame
            print(path, flush=True)
            # Wait until the parent took it (one line back), so at most one chunk waits on disk.
            if not sys.stdin.readline():
                return
        print(_DONE, flush=True)
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
    with tempfile.TemporaryDirectory(prefix="leadml-bulk-") as directory:
        spec = {"url": engine.url.render_as_string(hide_password=False), "directory": directory,
                "kwargs": {**kwargs, "as_of": as_of.isoformat()}}
        child = subprocess.Popen([sys.executable, "-c", "from leadml.scoring.feature_stream import _child_main; "
                                  "_child_main()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        try:
            child.stdin.write(json.dumps(spec) + "\n")
            child.stdin.flush()
            while True:
                line = child.stdout.readline().strip()
                if line == _DONE:
                    break
                if not line:
                    child.wait()
                    raise RuntimeError(f"feature computation failed (exit code {child.returncode}); see its log")
                frame = pl.read_ipc(line)
                Path(line).unlink()
                child.stdin.write("next\n")
                child.stdin.flush()
                yield frame
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            for stream in (child.stdin, child.stdout):
                stream.close()
