"""Putting synthetic activities on the calendar, for millions of them at once.

A "segment" is a batch of activities of one kind: parallel numpy arrays of lead index, time (epoch
ms, whole seconds), type, direction and UTM codes. Streams are generated as segments and
concatenated once at the end, so no Python code runs per lead or per activity.

Times are in UTC and the synthetic config's timezone is UTC: engaged corporate buyers act in office
hours on weekdays, tyre-kickers mostly in the evening and at weekends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadml.features.inputs import KNOWN_ACTIVITY_TYPES

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

TYPE_CODE = {name: code for code, name in enumerate(KNOWN_ACTIVITY_TYPES)}
DIRECTIONS = ["inbound", "outbound"]
INBOUND, OUTBOUND = 0, 1

# Relative weight of each hour of the day (UTC = the config's timezone).
OFFICE_HOUR_WEIGHTS = np.array([0, 0, 0, 0, 0, 0, 0, 0.3, 1, 3, 4, 4, 2, 3, 4, 4, 3, 2, 0.5, 0.2, 0, 0, 0, 0])
AFTER_HOUR_WEIGHTS = np.array([2, 1, 0.5, 0.3, 0.3, 0.5, 1, 2, 1, .6, .6, .6, 1, .6, .6, .6, .6, 1, 3, 5, 6, 6, 5, 3])


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights, dtype=float)
    return cdf / cdf[-1]


_OFFICE_CDF = _cdf(OFFICE_HOUR_WEIGHTS)
_AFTER_CDF = _cdf(AFTER_HOUR_WEIGHTS)


class Vocabulary:
    """Interning of UTM strings into small integer codes (code 0 is "no value")."""

    def __init__(self) -> None:
        self.values: list[str | None] = [None]
        self._codes: dict[str | None, int] = {None: 0}

    def code(self, value: str | None) -> int:
        if value not in self._codes:
            self._codes[value] = len(self.values)
            self.values.append(value)
        return self._codes[value]


@dataclass
class Segment:
    lead: np.ndarray  # int32 index into the leads
    time: np.ndarray  # int64 epoch ms
    type: np.ndarray  # uint8 code into KNOWN_ACTIVITY_TYPES
    direction: np.ndarray  # uint8: INBOUND / OUTBOUND
    source: np.ndarray  # uint16 codes into a Vocabulary
    medium: np.ndarray
    campaign: np.ndarray

    def __len__(self) -> int:
        return len(self.lead)


def segment(lead, time, activity_type, direction, source=0, medium=0, campaign=0) -> Segment:
    """A segment; scalar type/direction/UTM codes are broadcast to every activity."""
    m = len(lead)

    def column(value, dtype):
        return np.full(m, value, dtype=dtype) if np.isscalar(value) else np.asarray(value, dtype=dtype)

    return Segment(
        lead=np.asarray(lead, dtype=np.int32), time=np.asarray(time, dtype=np.int64),
        type=column(activity_type, np.uint8), direction=column(direction, np.uint8),
        source=column(source, np.uint16), medium=column(medium, np.uint16), campaign=column(campaign, np.uint16),
    )


def concat(segments: list[Segment]) -> Segment:
    return Segment(*(np.concatenate([getattr(s, f) for s in segments]) for f in Segment.__dataclass_fields__))


def subset(seg: Segment, keep: np.ndarray) -> Segment:
    return Segment(*(getattr(seg, f)[keep] for f in Segment.__dataclass_fields__))


def repeat_leads(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For per-lead counts: the lead index of every item and its rank within its lead (0, 1, ...)."""
    counts = np.asarray(counts, dtype=np.int64)
    lead = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    first = np.cumsum(counts) - counts
    rank = np.arange(len(lead), dtype=np.int64) - np.repeat(first, counts)
    return lead, rank


def office_hours(rng: np.random.Generator, time: np.ndarray, p_office: np.ndarray | float) -> np.ndarray:
    """Move each time to a plausible hour on the same day (or next to it).

    With probability p_office an action happens in office hours on a weekday (a Saturday moves to
    Friday, a Sunday to Monday); otherwise at an after-hours time, and three in ten of those move to
    the weekend of that week.
    """
    m = len(time)
    day = time // DAY
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    office = rng.random(m) < p_office
    hour = np.where(
        office,
        np.searchsorted(_OFFICE_CDF, rng.random(m), side="right"),
        np.searchsorted(_AFTER_CDF, rng.random(m), side="right"),
    )
    day = day - (office & (weekday == 5)) + (office & (weekday == 6))
    to_weekend = ~office & (weekday < 5) & (rng.random(m) < 0.3)
    day = np.where(to_weekend, day + (5 - weekday) + (rng.random(m) < 0.5), day)
    return day * DAY + np.minimum(hour, 23) * HOUR + rng.integers(0, 3600, m) * SECOND


def place(
    rng: np.random.Generator,
    lead: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    p_office: np.ndarray | float,
    *,
    lateness: float = 1.0,
) -> np.ndarray:
    """Times for activities of `lead` inside each lead's [low, high] window (epoch ms, per lead).

    `lateness` > 1 crowds activities towards the end of the window (engagement that builds up).
    Whatever office_hours() would push out of the window keeps its uniform time instead.
    """
    lo = low[lead]
    span = high[lead] - lo
    uniform = lo + (rng.random(len(lead)) ** (1.0 / lateness) * span).astype(np.int64)
    p = p_office[lead] if isinstance(p_office, np.ndarray) else p_office
    moved = office_hours(rng, uniform, p)
    inside = (moved >= lo) & (moved <= lo + span)
    return to_seconds(np.where(inside, moved, uniform))


def to_seconds(time: np.ndarray) -> np.ndarray:
    """Whole seconds (all window bounds are whole seconds, so this never leaves a window)."""
    return time - time % SECOND
