"""Writing a synthetic funnel to leads / activities / outcomes files in the import format."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from leadml.synth.generator import Progress, SyntheticFunnel

# ISO 8601 with the offset, e.g. 2026-03-01T14:05:00+00:00 (generated times are whole seconds).
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%:z"
FILE_NAMES = ("leads", "activities", "outcomes")


def write_funnel(
    funnel: SyntheticFunnel,
    out_dir: Path,
    fmt: Literal["csv", "parquet"] = "csv",
    *,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write leads.<fmt>, activities.<fmt> and outcomes.<fmt> into `out_dir` (created if needed).

    CSV renders datetimes as ISO strings with offset and booleans as true/false; Parquet keeps
    native UTC timestamps. Returns the path written for each of the three files.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}; use csv or parquet")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = {"leads": funnel.leads, "activities": funnel.activities, "outcomes": funnel.outcomes}
    paths: dict[str, Path] = {}
    for done, name in enumerate(FILE_NAMES):
        if progress:
            progress(f"writing {name}.{fmt}", done, len(FILE_NAMES))
        path = out_dir / f"{name}.{fmt}"
        if fmt == "csv":
            frames[name].write_csv(path, datetime_format=ISO_FORMAT)
        else:
            frames[name].write_parquet(path)
        paths[name] = path
    if progress:
        progress("written", len(FILE_NAMES), len(FILE_NAMES))
    return paths
