"""The activity log of the synthetic funnel, stream by stream.

Outbound: nurture-sequence emails on the sequence's schedule, one-off sales emails and sales calls,
all in office hours. Inbound: the form that created an inbound lead, email opens and clicks that
follow the sends, page views, further forms, meetings and calls spread over the lead's engaged
period (crowded towards its end), and a burst of activity in the days before a conversion (plus
some false bursts among leads that are lost). Nothing happens after the outcome or after `now`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadml.synth import names as vocab
from leadml.synth.behaviour import Behaviour
from leadml.synth.profiles import Profiles, choose
from leadml.synth.timeline import (
    DAY, HOUR, INBOUND, MINUTE, OUTBOUND, SECOND, TYPE_CODE, Segment, Vocabulary, concat, office_hours, place,
    repeat_leads, segment, subset, to_seconds,
)

SEQUENCE_TOTALS = np.array([s[1] for s in vocab.SEQUENCES])
SEQUENCE_INTERVAL_DAYS = np.array([s[2] for s in vocab.SEQUENCES])
BURST_TYPES = np.array([TYPE_CODE["page_view"], TYPE_CODE["form_submit"], TYPE_CODE["meeting"], TYPE_CODE["call"]])


@dataclass
class ActivityLog:
    activities: Segment  # sorted by lead, then time
    sources: Vocabulary
    mediums: Vocabulary
    campaigns: Vocabulary
    sequence_sends: np.ndarray  # per lead: nurture emails sent up to now


class _Utm:
    def __init__(self) -> None:
        self.sources, self.mediums, self.campaigns = Vocabulary(), Vocabulary(), Vocabulary()

    def codes(self, source, medium, campaign) -> tuple[int, int, int]:
        return self.sources.code(source), self.mediums.code(medium), self.campaigns.code(campaign)

    def by_lead_source(self) -> np.ndarray:
        """(lead source index, 3) UTM codes of the channel that brought the lead."""
        return np.array([self.codes(*vocab.LEAD_SOURCE_UTM[s]) for s in vocab.LEAD_SOURCES])


def build_activity_log(
    rng: np.random.Generator, who: Profiles, b: Behaviour, created: np.ndarray, outcome: np.ndarray, now: int
) -> ActivityLog:
    utm = _Utm()
    channel = utm.by_lead_source()[who.lead_source]  # (n, 3)
    direct = utm.codes("direct", "none", None)
    sales_email = utm.codes("sales", "email", None)
    sales_phone = utm.codes("sales", "phone", None)
    sales_meeting = utm.codes("sales", "meeting", None)
    # The lead's own actions stop `quiet_days` before its outcome.
    engaged_end = np.maximum(created, to_seconds(outcome - (b.quiet_days * DAY).astype(np.int64)))

    segments: list[Segment] = []
    inbound_source = np.isin(who.lead_source, [vocab.LEAD_SOURCES.index(s) for s in vocab.INBOUND_LEAD_SOURCES])
    lead = np.flatnonzero(inbound_source)
    segments.append(segment(lead, created[lead], TYPE_CODE["form_submit"], INBOUND, *channel[lead].T))

    nurture = _sequence_sends(rng, b, created, outcome, utm)
    lead, _ = repeat_leads(b.sales_touches)
    touches = segment(lead, place(rng, lead, created, outcome, 0.95), TYPE_CODE["email_sent"], OUTBOUND, *sales_email)
    sends = concat([nurture, touches])
    segments += [sends, *_opens_and_clicks(rng, b, sends, engaged_end)]
    lead, _ = repeat_leads(b.outbound_calls)
    segments.append(segment(lead, place(rng, lead, created, outcome, 0.95), TYPE_CODE["call"], OUTBOUND, *sales_phone))

    for count, kind in ((b.page_views, "page_view"), (b.extra_forms, "form_submit")):
        lead, _ = repeat_leads(count)
        from_channel = rng.random(len(lead)) < 0.4
        codes = np.where(from_channel[:, None], channel[lead], np.asarray(direct)[None, :])
        time = place(rng, lead, created, engaged_end, b.p_office, lateness=1.5)
        segments.append(segment(lead, time, TYPE_CODE[kind], INBOUND, *codes.T))
    lead, _ = repeat_leads(b.meetings)
    time = place(rng, lead, created, engaged_end, 0.97, lateness=1.3)
    segments.append(segment(lead, time, TYPE_CODE["meeting"], INBOUND, *sales_meeting))
    lead, _ = repeat_leads(b.inbound_calls)
    time = place(rng, lead, created, engaged_end, 0.8, lateness=1.3)
    segments.append(segment(lead, time, TYPE_CODE["call"], INBOUND, *sales_phone))
    segments.append(_bursts(rng, b, created, engaged_end, np.array([direct, direct, sales_meeting, sales_phone])))

    log = concat(segments)
    del segments
    # Drop what has not happened yet (open leads' future), then order the log by lead and time,
    # like a CRM export per lead (and so that a database load appends to its indexes).
    kept = np.flatnonzero(log.time <= now)
    log = subset(log, kept[by_lead_then_time(log.lead[kept], log.time[kept])])
    del kept
    sent = (log.type == TYPE_CODE["email_sent"]) & (log.campaign != 0) & (log.source == utm.sources.code("nurture"))
    sequence_sends = np.bincount(log.lead[sent], minlength=len(created))
    return ActivityLog(log, utm.sources, utm.mediums, utm.campaigns, sequence_sends)


def by_lead_then_time(lead: np.ndarray, time: np.ndarray) -> np.ndarray:
    """The permutation that sorts by (lead, time): one argsort of a packed int64 key when it fits."""
    if len(lead) == 0:
        return np.arange(0)
    seconds = (time - time.min()) // 1000
    shift = int(seconds.max()).bit_length()
    if shift + int(lead.max()).bit_length() <= 62:
        return np.argsort((lead.astype(np.int64) << shift) | seconds)
    return np.lexsort((time, lead))


def _sequence_sends(rng, b: Behaviour, created, outcome, utm: _Utm) -> Segment:
    """Nurture emails: step 0 minutes after creation, then one every N days in office hours,
    until the sequence ends or the lead's outcome takes it out of the sequence."""
    enrolled = b.sequence >= 0
    seq = np.where(enrolled, b.sequence, 0)
    interval = SEQUENCE_INTERVAL_DAYS[seq] * DAY
    first = created + rng.integers(5, 180, len(created)) * MINUTE
    steps = np.minimum(SEQUENCE_TOTALS[seq], (outcome - first) // interval + 1)
    steps = np.where(enrolled & (first <= outcome), steps, 0)
    lead, rank = repeat_leads(steps)
    planned = first[lead] + rank * interval[lead]
    moved = office_hours(rng, planned, 1.0)
    ok = (rank > 0) & (moved > first[lead]) & (moved <= outcome[lead])
    time = to_seconds(np.where(ok, moved, planned))
    campaign = np.array([utm.campaigns.code(name.lower().replace(" ", "-")) for name, _, _ in vocab.SEQUENCES])
    campaign = campaign[seq[lead]]
    return segment(lead, time, TYPE_CODE["email_sent"], OUTBOUND, utm.sources.code("nurture"),
                   utm.mediums.code("email"), campaign)


def _opens_and_clicks(rng, b: Behaviour, sends: Segment, engaged_end) -> list[Segment]:
    """Opens follow sends after a skewed delay (some emails are opened twice); clicks follow opens."""
    lead = sends.lead
    opened = (sends.time <= engaged_end[lead]) & (rng.random(len(lead)) < b.p_open[lead])
    first = subset(sends, opened)
    delay = np.minimum(np.exp(np.log(2.0) + 1.3 * rng.standard_normal(len(first))), 7 * 24) * HOUR
    first.time = to_seconds(first.time + delay.astype(np.int64))
    first.type[:] = TYPE_CODE["email_open"]
    first.direction[:] = INBOUND
    first = subset(first, first.time <= engaged_end[first.lead])
    again = subset(first, rng.random(len(first)) < 0.25)
    later = np.exp(np.log(12.0) + rng.standard_normal(len(again))) * HOUR
    again.time = to_seconds(again.time + later.astype(np.int64))
    again = subset(again, again.time <= engaged_end[again.lead])
    clicks = subset(first, rng.random(len(first)) < b.p_click[first.lead])
    clicks.time = clicks.time + rng.integers(10, 900, len(clicks)) * SECOND
    clicks.type = np.full(len(clicks), TYPE_CODE["email_click"], dtype=np.uint8)
    clicks = subset(clicks, clicks.time <= engaged_end[clicks.lead])
    return [first, again, clicks]


def _bursts(rng, b: Behaviour, created, engaged_end, utm_by_burst_type: np.ndarray) -> Segment:
    """A flurry of visits, forms, meetings and calls in the last days before a conversion (for the
    wins that close straight after it, about half) or at the end of the engaged period of some
    leads that are then lost (an evaluation that ends in a no)."""
    n = len(created)
    real = b.converts & (b.quiet_days == 0)
    false = ~b.converts & (rng.random(n) < 0.15)
    end = engaged_end
    start = np.maximum(created, end - np.where(real, 3 * DAY, 2 * DAY))
    counts = np.where(real | false, 2 + rng.poisson(1.5, n), 0)
    lead, _ = repeat_leads(counts)
    kind = choose(rng, [0.55, 0.1, 0.1, 0.25], len(lead))
    time = place(rng, lead, to_seconds(start), to_seconds(end), b.p_office)
    return segment(lead, time, BURST_TYPES[kind], INBOUND, *utm_by_burst_type[kind].T)
