"""Point-in-time training rows from a config's leads and outcomes.

One snapshot per lead, taken at a reproducible pseudo-random moment of its open life, so that the
model learns "given what we knew then, did the lead convert within the horizon?" — exactly the
question scoring an open lead today asks:
- converted or lost lead: the snapshot lies between creation and the outcome, strictly before the
  outcome (features count activities at or before the snapshot, so nothing recorded at or after the
  outcome leaks in); label 1 when it converted within `horizon_days` of the snapshot;
- open lead older than the horizon: the snapshot lies between creation and now - horizon; label 0
  (a whole horizon passed without conversion);
- open lead younger than the horizon: excluded, its label is not known yet (right-censored). It
  still serves the time-to-close model as a censored observation.
Time to close, per snapshot: days from the snapshot to conversion (event) for converted leads; days
from the snapshot to now (censored) for open leads; lost leads never close and are left out.

Snapshot leads (imported with their outcome, `Lead.snapshot` set; see docs/model.md) give snapshot
rows: their fields are as exported, so the label is the exported outcome itself (1 converted, 0
lost; no horizon, the fields already describe the lead at its end). The as-of moment is drawn the
same way, so the lead's age is that of an open lead somewhere in its life (0 without dates). Only a
"timed" snapshot (creation and close dates given) has a known time to close; the others are left
out of the time-to-close model, and an "undated" one has no date to order the hold-out by.
Attributes whose values are all different (at least 20: an id such as "Lead Number") are left out
of the features, by the rule `leadml evaluate` applies to a file's columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from sqlalchemy.engine import Engine

from leadml.features.attributes import CUSTOM_PREFIX
from leadml.features.table import AS_OF_COLUMN, extract_feature_table
from leadml.storage.feature_frames import load_activity_frame, load_lead_frame

DAY_MS = 86_400_000


@dataclass
class TrainingData:
    features: pd.DataFrame  # one row per snapshot, model columns only
    lead_ids: np.ndarray
    created_at_ms: np.ndarray
    label: np.ndarray  # 1 converted within the horizon of the snapshot; -1 when not labelled (young open lead)
    duration_days: np.ndarray  # snapshot -> close (event) or -> now (censored); NaN for lost leads
    closed: np.ndarray  # 1 converted (event observed), 0 censored
    summary: dict[str, Any]
    dated: np.ndarray | None = None  # False for rows without a real date (undated snapshots): random hold-out


def _unit_hash(lead_ids: np.ndarray, seed: int) -> np.ndarray:
    """A reproducible number in [0, 1) per lead (splitmix64), so retraining sees the same snapshots."""
    x = (lead_ids.astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)) * np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(31)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(29)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def snapshot_times(created_ms, status, outcome_ms, *, now_ms: int, horizon_days: int, seed: int = 0, lead_ids=None):
    """(as-of ms, label, duration days, closed) per lead; see the module docstring."""
    created_ms = np.asarray(created_ms, dtype=np.int64)
    status = np.asarray(status, dtype=object)
    outcome_ms = np.asarray(outcome_ms, dtype=np.float64)  # NaN when open
    horizon_ms = horizon_days * DAY_MS
    unit = _unit_hash(np.asarray(lead_ids if lead_ids is not None else np.arange(len(created_ms))), seed)
    converted, lost = status == "converted", status == "lost"
    is_open = ~(converted | lost)
    end = np.where(is_open, now_ms - horizon_ms, np.nan_to_num(outcome_ms, nan=now_ms))
    usable_open = is_open & (end >= created_ms)
    span = np.maximum(end - created_ms, 0)
    as_of = (created_ms + np.floor(unit * span)).astype(np.int64)
    # Strictly before the outcome (features count activities at or before their as-of time): a lead
    # closed at its creation, or a draw that float rounding puts on the outcome, moves 1 ms earlier.
    # (`end` is the outcome time, or now for a closed lead imported without one.)
    closed_lead = converted | lost
    as_of[closed_lead] = np.minimum(as_of[closed_lead], end[closed_lead].astype(np.int64) - 1)
    # Young open leads keep a snapshot inside their life too, for the censored time-to-close rows.
    young = is_open & ~usable_open
    as_of[young] = (created_ms[young] + np.floor(unit[young] * np.maximum(now_ms - created_ms[young], 0))).astype(np.int64)
    label = np.where(converted & (outcome_ms - as_of <= horizon_ms), 1, 0)
    label = np.where(young, -1, label)
    duration = np.where(converted, (outcome_ms - as_of) / DAY_MS, np.where(is_open, (now_ms - as_of) / DAY_MS, np.nan))
    return as_of, label.astype(np.int64), duration, converted.astype(np.int64)


def build_training_data(engine: Engine, *, config_id: int, timezone: str, horizon_days: int, now: datetime,
                        custom_attributes: list[str] | None, seed: int = 0) -> TrainingData:
    leads = load_lead_frame(engine, config_id=config_id, attributes=custom_attributes,
                            extra_columns=("outcome_status", "outcome_at", "snapshot"))
    activities = load_activity_frame(engine, config_id=config_id)
    now_ms = int(now.timestamp() * 1000)
    created_ms = leads.get_column("created_at").dt.epoch("ms").to_numpy()
    outcome = leads.get_column("outcome_at").dt.epoch("ms").cast(pl.Float64).fill_null(np.nan).to_numpy()
    lead_ids = leads.get_column("lead_id").to_numpy()
    status = leads.get_column("outcome_status").to_numpy()
    as_of, label, duration, closed = snapshot_times(
        created_ms, status, outcome, now_ms=now_ms, horizon_days=horizon_days, seed=seed, lead_ids=lead_ids,
    )
    kind = leads.get_column("snapshot").fill_null("").to_numpy()
    snapshot = (kind != "") & ((status == "converted") | (status == "lost"))
    label = np.where(snapshot, (status == "converted").astype(np.int64), label)
    duration = np.where(snapshot & (kind != "timed"), np.nan, duration)
    frame = leads.drop("outcome_status", "outcome_at", "snapshot").with_columns(
        pl.Series(AS_OF_COLUMN, as_of).cast(pl.Datetime("ms", "UTC"))
    )
    table = extract_feature_table(frame, activities, timezone=timezone, custom_attributes=custom_attributes)
    features = table.drop("lead_id").to_pandas()
    from leadml.evaluate import identifier_columns  # here: evaluate imports the survival model (lifelines)

    custom = [c for c in features.columns if c.startswith(CUSTOM_PREFIX)]
    identifiers = identifier_columns(features[custom]) if custom else []
    features = features.drop(columns=identifiers)
    labelled = label >= 0
    summary = {
        "leads": int(len(leads)),
        "labelled": int(labelled.sum()),
        "converted": int((status == "converted").sum()),
        "lost": int((status == "lost").sum()),
        "open": int((status == "open").sum()),
        "openTooYoung": int((label < 0).sum()),
        "positives": int((label == 1).sum()),
        "pointInTimeRows": int((labelled & ~snapshot).sum()),
        "snapshotRows": {k: int((snapshot & (kind == k)).sum()) for k in ("undated", "dated", "timed")},
        "droppedAttributes": {c[len(CUSTOM_PREFIX):]: "identifier (every value different)" for c in identifiers},
        "horizonDays": horizon_days,
        "asOf": now.isoformat(),
        "snapshot": "one reproducible random moment of each lead's open life",
    }
    return TrainingData(features=features, lead_ids=lead_ids, created_at_ms=created_ms, label=label,
                        duration_days=duration, closed=closed, summary=summary, dated=~(snapshot & (kind == "undated")))
