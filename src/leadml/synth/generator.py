"""`generate_funnel`: a synthetic B2B funnel (leads, activities, outcomes) in the import format.

The frames have exactly the columns `leadml import leads|activities|outcomes` reads (camelCase
names, datetimes as Datetime("ms", "UTC")); `write_funnel` renders them as CSV or Parquet. Leads
are created over the year before `now`; closed leads carry an outcome, the rest are still open
(censored). How conversion and timing are simulated is described in `synth/behaviour.py`.

Everything is vectorized with numpy/polars, and the same seed and `now` give the same frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from leadml.features.inputs import KNOWN_ACTIVITY_TYPES
from leadml.synth import names as vocab
from leadml.synth.behaviour import Behaviour, draw_behaviour
from leadml.synth.profiles import ENTERPRISE, STARTUP, Profiles, draw_profiles, pick
from leadml.synth.streams import SEQUENCE_TOTALS, ActivityLog, build_activity_log
from leadml.synth.timeline import DAY, DIRECTIONS, INBOUND, TYPE_CODE, office_hours, to_seconds

LEAD_COLUMNS = [
    "email", "externalId", "name", "company", "phone", "title", "pipelineStage", "pipelineValue", "tags",
    "createdAt", "sequenceName", "sequenceStep", "sequenceTotal", "sequenceActive",
]
ATTRIBUTE_COLUMNS = ["industry", "leadSource", "country", "employees"]  # custom attributes
ACTIVITY_COLUMNS = ["leadExternalId", "type", "occurredAt", "direction", "eventId", "source", "medium", "campaign"]
OUTCOME_COLUMNS = ["leadExternalId", "status", "at", "value"]
DATETIME = pl.Datetime("ms", "UTC")
GENERATION_STEPS = 4

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class SyntheticFunnel:
    leads: pl.DataFrame
    activities: pl.DataFrame
    outcomes: pl.DataFrame
    now: datetime  # the as-of time: nothing happens after it
    seed: int


def generate_funnel(
    n_leads: int,
    *,
    seed: int = 0,
    start: datetime | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> SyntheticFunnel:
    """Simulate `n_leads` leads created between `start` (default: 365 days before `now`) and `now`
    (default: midnight UTC today, so that runs on the same day agree), with their activities and
    the outcomes recorded up to `now`."""
    if n_leads < 0:
        raise ValueError("n_leads must be zero or more")
    now = _aware(now) if now is not None else datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = _aware(start) if start is not None else now - timedelta(days=365)
    if start >= now:
        raise ValueError("start must be before now")
    now_ms = int(now.timestamp()) * 1000  # whole seconds, like every generated time
    start_ms = -(-int(start.timestamp() * 1000) // 1000) * 1000
    report = progress or (lambda stage, done, total: None)
    rng = np.random.default_rng(seed)

    report("who the leads are", 0, GENERATION_STEPS)
    who = draw_profiles(rng, n_leads)
    report("buying intent and outcomes", 1, GENERATION_STEPS)
    behaviour = draw_behaviour(rng, who)
    created = _creation_times(rng, behaviour, start_ms, now_ms)
    outcome = to_seconds(created + np.maximum(behaviour.close_days * DAY, 1000).astype(np.int64))
    report("activities", 2, GENERATION_STEPS)
    log = build_activity_log(rng, who, behaviour, created, outcome, now_ms)
    report("frames", 3, GENERATION_STEPS)
    external_ids = _numbered("SYN-", n_leads, width=7)
    leads = _leads_frame(rng, who, behaviour, log, created, outcome, now_ms, external_ids)
    outcomes = _outcomes_frame(rng, behaviour, leads, outcome, now_ms, external_ids)
    activities = _activities_frame(log, external_ids)
    report("done", GENERATION_STEPS, GENERATION_STEPS)
    return SyntheticFunnel(leads=leads, activities=activities, outcomes=outcomes, now=now, seed=seed)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("start/now must be timezone-aware datetimes")
    return value.astimezone(UTC)


def _creation_times(rng, b: Behaviour, start_ms: int, now_ms: int) -> np.ndarray:
    """Spread over the window with slowly growing volume; form fills follow the lead's habits."""
    n = len(b.intent)
    span = now_ms - start_ms
    uniform = start_ms + (rng.random(n) ** 0.85 * (span - 60_000)).astype(np.int64)
    moved = office_hours(rng, uniform, b.p_office)
    inside = (moved >= start_ms) & (moved < now_ms - 60_000)
    return to_seconds(np.where(inside, moved, uniform))


def _numbered(prefix: str, count: int, *, width: int) -> pl.Series:
    """prefix + 1, 2, ... zero-padded to `width` digits (so that ids sort like their numbers)."""
    width = max(width, len(str(count)))
    padded = (pl.int_range(1, count + 1, dtype=pl.Int64) + 10**width).cast(pl.String).str.slice(1)
    return pl.select(pl.concat_str([pl.lit(prefix), padded])).to_series()


def _datetimes(ms: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(ms, dtype=np.int64)).cast(DATETIME)


def _leads_frame(rng, who: Profiles, b: Behaviour, log: ActivityLog, created, outcome, now_ms, external_ids):
    n = len(created)
    closed = outcome <= now_ms
    acts = log.activities
    inbound = np.bincount(acts.lead[acts.direction == INBOUND], minlength=n)
    meetings = np.bincount(acts.lead[acts.type == TYPE_CODE["meeting"]], minlength=n)
    stage = np.select(
        [closed & b.converts, closed, meetings > 0, inbound > 1, log.sequence_sends + inbound > 0],
        [5, 4, 3, 2, 1], default=0,
    )
    stages = [*vocab.PIPELINE_STAGES_OPEN, vocab.PIPELINE_STAGE_LOST, vocab.PIPELINE_STAGE_WON]
    # A deal size by company size (freelancers like startups); unknown for brand-new leads.
    size = np.where(who.has_company, who.size, STARTUP)
    value = np.array([60_000.0, 25_000.0, 8_000.0, 3_000.0])[size] * np.exp(0.5 * rng.standard_normal(n))
    value = np.round(value, -2)

    enrolled = b.sequence >= 0
    seq = np.where(enrolled, b.sequence, 0)
    total = SEQUENCE_TOTALS[seq]
    step = np.maximum(log.sequence_sends - 1, 0)
    active = enrolled & ~closed & (log.sequence_sends < total)
    tags = _tags(rng, who, b)

    columns = dict(who.columns)
    frame = pl.DataFrame({
        "email": columns["email"],
        "externalId": external_ids,
        "name": columns["name"],
        "company": columns["company"],
        "phone": columns["phone"],
        "title": columns["title"],
        "pipelineStage": pick(stages, stage),
        "pipelineValue": pl.Series(value).set(pl.Series(stage == 0), None),
        "tags": tags,
        "createdAt": _datetimes(created),
        "sequenceName": pick([s[0] for s in vocab.SEQUENCES] + [None], np.where(enrolled, seq, len(vocab.SEQUENCES))),
        "sequenceStep": pl.Series(step, dtype=pl.Int64).set(pl.Series(~enrolled), None),
        "sequenceTotal": pl.Series(total, dtype=pl.Int64).set(pl.Series(~enrolled), None),
        "sequenceActive": pl.Series(active, dtype=pl.Boolean),
        **{name: columns[name] for name in ATTRIBUTE_COLUMNS},
    })
    return frame


def _tags(rng, who: Profiles, b: Behaviour) -> pl.Series:
    n = len(b.intent)
    source = np.asarray(vocab.LEAD_SOURCES)[who.lead_source]
    flags = {
        "newsletter": rng.random(n) < 0.3,
        "webinar-2025": source == "webinar",
        "trial": (b.sequence == 0) | (rng.random(n) < 0.1),
        "pricing-page": (b.page_views >= 5) & (rng.random(n) < 0.3),
        "partner-referral": source == "partner",
        "event-lead": source == "event",
        "enterprise": (who.size == ENTERPRISE) & who.has_company & (rng.random(n) < 0.5),
        "student": who.columns["title"].str.contains("Student").fill_null(False).to_numpy(),
    }
    parts = [pl.when(pl.lit(pl.Series(flag))).then(pl.lit(tag)) for tag, flag in flags.items()]
    return pl.select(pl.concat_str(parts, separator=";", ignore_nulls=True)).to_series()


def _outcomes_frame(rng, b: Behaviour, leads: pl.DataFrame, outcome, now_ms, external_ids) -> pl.DataFrame:
    closed = np.flatnonzero(outcome <= now_ms)
    won = b.converts[closed]
    value = leads["pipelineValue"].fill_null(3_000.0).to_numpy()[closed]
    value = np.round(value * np.exp(0.15 * rng.standard_normal(len(closed))), 2)
    return pl.DataFrame({
        "leadExternalId": external_ids.gather(closed),
        "status": pick(["lost", "converted"], won.astype(np.int64)),
        "at": _datetimes(outcome[closed]),
        "value": pl.Series(value).set(pl.Series(~won), None),
    })


def _activities_frame(log: ActivityLog, external_ids: pl.Series) -> pl.DataFrame:
    acts = log.activities
    return pl.DataFrame({
        "leadExternalId": external_ids.gather(pl.Series(acts.lead, dtype=pl.UInt32)),
        "type": pick(list(KNOWN_ACTIVITY_TYPES), acts.type),
        "occurredAt": _datetimes(acts.time),
        "direction": pick(DIRECTIONS, acts.direction),
        "eventId": _numbered("SYN-E", len(acts), width=9),
        "source": pick(log.sources.values, acts.source),
        "medium": pick(log.mediums.values, acts.medium),
        "campaign": pick(log.campaigns.values, acts.campaign),
    })
