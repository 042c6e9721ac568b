"""The hidden truth of the synthetic funnel: buying intent, activity volumes, who converts and when.

Every lead gets a latent buying intent. Intent (plus who the lead is) sets how much the lead does:
page views, forms, meetings, calls, how often it opens and clicks emails, how long it stays engaged.
Conversion is then drawn from a logit that is deliberately NOT additive in the visible features, so
that a learned model has something to learn that a hand-weighted score cannot express:

- seniority x company size: a CEO converts at a startup but is a gatekeeper at an enterprise, where
  directors and VPs buy;
- meetings only help with a corporate address (free-mail "meetings" are no-shows and job seekers);
- page views have a sweet spot: none is bad, a handful is good, dozens (researchers, scrapers,
  tyre-kickers) is bad again;
- email engagement is a threshold (a real clicker), not a per-open bonus;
- a phone number only matters for decision makers; a demo form only for non-free addresses;
- industry x size, lead source, and after-hours tyre-kickers.

Time to close is shorter for high intent, senior buyers, small companies and leads with meetings.
Lost leads are either disqualified while still talking to sales or go cold and are closed out
weeks later, so recency helps but does not give the outcome away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadml.synth import names as vocab
from leadml.synth.profiles import (
    CORPORATE, DIRECTOR, EDU, ENTERPRISE, FREE, GOV, INDIVIDUAL, MID_MARKET, SMB, Profiles, choose,
)

# Log-odds shift of conversion by company size (rows) and seniority (columns: c_level, vp,
# director, manager, individual, no title). The last row is for leads without a company.
SIZE_X_SENIORITY = np.array([
    [-2.0, 0.7, 1.3, 0.8, 0.4, -0.6],  # enterprise
    [-0.6, 1.0, 0.7, 0.3, 0.0, -0.6],  # mid_market
    [0.6, 0.2, -0.2, -0.3, -0.2, -0.6],  # smb
    [1.6, -0.7, -1.0, -0.8, -0.6, -0.6],  # startup
    [0.0, -0.2, -0.4, -0.4, -0.4, -0.6],  # no company given
])
LEAD_SOURCE_EFFECT = {
    "organic_search": 0.0, "paid_search": -0.2, "referral": 0.4, "webinar": 0.1, "event": 0.2,
    "content_download": -0.1, "outbound": -0.3, "partner": 0.3, "social": -0.2,
}
LEAD_SOURCE_INTENT = {
    "organic_search": 0.0, "paid_search": -0.1, "referral": 0.3, "webinar": 0.1, "event": 0.2,
    "content_download": -0.1, "outbound": -0.3, "partner": 0.2, "social": -0.2,
}
BASE_LOG_ODDS = -3.6  # puts about 15 % of closed leads in "converted"

# Time to close (converted): median days, times factors by size and seniority.
MEDIAN_DAYS_TO_CLOSE = 32.0
CLOSE_FACTOR_BY_SIZE = np.array([1.6, 1.2, 0.9, 0.7])
CLOSE_FACTOR_BY_SENIORITY = np.array([0.75, 0.85, 0.95, 1.05, 1.2, 1.2])


@dataclass
class Behaviour:
    intent: np.ndarray
    tyre_kicker: np.ndarray  # bool: browses a lot after hours, rarely buys
    p_office: np.ndarray  # share of the lead's own actions in office hours
    page_views: np.ndarray
    extra_forms: np.ndarray  # forms beyond the one that created the lead (demo requests ...)
    meetings: np.ndarray
    inbound_calls: np.ndarray
    outbound_calls: np.ndarray
    sales_touches: np.ndarray  # one-off sales emails besides the nurture sequence
    p_open: np.ndarray
    p_click: np.ndarray  # given an open
    engaged_days: np.ndarray  # how long a lead that will be lost stays active
    quiet_days: np.ndarray  # silence between the last engagement and the outcome
    sequence: np.ndarray  # index into vocab.SEQUENCES, -1 when not enrolled
    converts: np.ndarray  # bool: converts eventually (recorded only if that happens before now)
    close_days: np.ndarray  # days from creation to conversion or to being marked lost


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def draw_behaviour(rng: np.random.Generator, who: Profiles) -> Behaviour:
    n = len(who.domain_type)
    corporate = who.domain_type == CORPORATE
    free = who.domain_type == FREE
    senior = who.seniority <= DIRECTOR
    source_name = np.asarray(vocab.LEAD_SOURCES)
    intent_shift = np.array([LEAD_SOURCE_INTENT[s] for s in source_name])[who.lead_source]
    intent = rng.standard_normal(n) + 0.25 * corporate - 0.25 * free + intent_shift

    low_profile = (who.seniority >= INDIVIDUAL) | (who.domain_type == EDU)
    tyre_kicker = rng.random(n) < 0.06 + 0.22 * free + 0.10 * low_profile
    intent = intent - 0.7 * tyre_kicker
    p_office = np.array([0.85, 0.45, 0.6, 0.85])[who.domain_type]
    p_office = np.where(tyre_kicker, 0.2, p_office)

    # Overall activity level: intent-driven with lead-to-lead spread.
    scale = np.exp(0.25 * intent + 0.5 * rng.standard_normal(n))
    browse = rng.gamma(2.0, 0.5, n) * np.where(tyre_kicker, 3.5, 1.0)
    meeting_rate = np.array([1.3, 1.0, 0.9, 0.9])[who.domain_type] * np.where(senior, 1.3, 1.0)
    behaviour = Behaviour(
        intent=intent,
        tyre_kicker=tyre_kicker,
        p_office=p_office,
        page_views=rng.poisson(4.8 * scale * browse),
        # Tyre-kickers download everything and read every email, but rarely buy.
        extra_forms=rng.poisson(0.22 * scale * np.where(tyre_kicker, 2.5, 1.0)),
        meetings=rng.poisson(0.2 * scale * meeting_rate),
        inbound_calls=rng.poisson(0.25 * scale),
        outbound_calls=rng.poisson(1.2 + 0.6 * corporate + 0.4 * senior),
        sales_touches=rng.poisson(2.0 + 0.6 * senior),
        p_open=_sigmoid(-0.7 + 0.6 * intent + 0.4 * corporate - 0.3 * free + 1.2 * tyre_kicker
                        + 0.5 * rng.standard_normal(n)),
        p_click=_sigmoid(-1.6 + 0.5 * intent + 0.5 * rng.standard_normal(n)),
        engaged_days=np.clip(np.exp(np.log(22.0) + 0.25 * intent + 0.6 * rng.standard_normal(n)), 1.0, 240.0),
        quiet_days=np.zeros(n),
        sequence=_enrol(rng, who),
        converts=np.zeros(n, dtype=bool),
        close_days=np.zeros(n),
    )
    p_convert = _sigmoid(conversion_log_odds(who, behaviour))
    behaviour.converts = rng.random(n) < p_convert
    _outcome_timing(rng, who, behaviour)
    return behaviour


def conversion_log_odds(who: Profiles, b: Behaviour) -> np.ndarray:
    """The true conversion logit (see the module docstring for the shape of each term)."""
    corporate = who.domain_type == CORPORATE
    free = who.domain_type == FREE
    size_row = np.where(who.has_company, who.size, 4)
    logit = BASE_LOG_ODDS + 0.2 * b.intent + SIZE_X_SENIORITY[size_row, who.seniority]

    meetings = np.minimum(b.meetings, 2)
    logit += np.select(
        [corporate, free], [1.5 * meetings, -2.0 * (meetings > 0)], default=0.0
    )
    views = b.page_views
    logit += np.select([views == 0, views <= 2, views <= 15, views <= 40], [-1.2, -0.4, 1.0, -0.3], default=-1.6)
    logit += 1.0 * (b.p_open * b.p_click >= 0.06) - 0.4 * (b.p_open < 0.1)
    logit += 0.6 * (who.has_phone & (who.seniority <= DIRECTOR))
    logit += 0.6 * ((b.extra_forms > 0) & ~free)
    # Small companies pick up the phone and buy; at large ones a call is just due diligence.
    logit += np.where(who.size >= SMB, 0.9, -0.2) * (b.inbound_calls > 0)
    source_effect = np.array([LEAD_SOURCE_EFFECT[s] for s in vocab.LEAD_SOURCES])
    logit += source_effect[who.lead_source]
    software = who.industry == vocab.INDUSTRIES.index("Software")
    logit += 0.5 * (software & (who.size <= MID_MARKET) & who.has_company)
    logit -= 0.4 * np.isin(who.domain_type, [EDU, GOV])
    logit -= 0.6 * b.tyre_kicker
    return logit


def _outcome_timing(rng: np.random.Generator, who: Profiles, b: Behaviour) -> None:
    """Days to the outcome, and how quiet the lead was just before it.

    About half of the wins close right after a flurry of activity, the other half after a quiet spell
    (procurement, legal). Lost leads are either disqualified while still talking to sales, or
    go cold and are closed out weeks later.
    """
    n = len(b.intent)
    median = (
        MEDIAN_DAYS_TO_CLOSE
        * CLOSE_FACTOR_BY_SIZE[who.size]
        * CLOSE_FACTOR_BY_SENIORITY[who.seniority]
        * np.exp(-0.2 * b.intent)
        * np.where(b.meetings > 0, 0.75, 1.0)
        * np.where(who.lead_source == vocab.LEAD_SOURCES.index("outbound"), 1.25, 1.0)
    )
    won = np.clip(median * np.exp(0.45 * rng.standard_normal(n)), 2.0, 365.0)
    won_quiet = np.where(rng.random(n) < 0.45, 0.0, np.minimum(rng.exponential(6.0, n), 0.8 * won))
    lost_quiet = np.where(rng.random(n) < 0.6, rng.exponential(2.0, n), 7.0 + rng.exponential(14.0, n))
    b.quiet_days = np.where(b.converts, won_quiet, lost_quiet)
    b.close_days = np.where(b.converts, won, b.engaged_days + lost_quiet)


def _enrol(rng: np.random.Generator, who: Profiles) -> np.ndarray:
    """Which nurture sequence each lead is in (-1: none). Inbound leads are enrolled more often."""
    n = len(who.domain_type)
    inbound = np.isin(who.lead_source, [vocab.LEAD_SOURCES.index(s) for s in vocab.INBOUND_LEAD_SOURCES])
    names = [s[0] for s in vocab.SEQUENCES]
    sequence = choose(rng, [3, 0, 1, 2, 1, 2], n)  # the general-purpose sequences
    webinar = who.lead_source == vocab.LEAD_SOURCES.index("webinar")
    sequence[webinar] = names.index("Webinar Follow-up")
    big = (who.size == ENTERPRISE) & (who.domain_type == CORPORATE) & (rng.random(n) < 0.6)
    sequence[big] = names.index("Enterprise Outreach")
    enrolled = rng.random(n) < 0.55 + 0.25 * inbound
    sequence[~enrolled] = -1
    return sequence

