"""The transparent rules as data: every constant the cold-start predictor uses, in one place.

The seed system added probability points (base 0.15, company +0.08, ...) and clamped the sum to
[0.01, 0.99]; the bonuses of an engaged lead summed far past 1, so scores piled up at the clamps.
Here each seed bonus keeps its size and sign but is read as *log-odds*: a bonus of b points adds
LOG_ODDS_PER_POINT * b to logit(0.15), and the sum is squashed with the sigmoid. One factor for every
rule keeps the seed's ordering of signals (a meeting still outweighs a page view, c-level outweighs
manager). The factor 3 was chosen so that every positive rule together (MAX_TOTAL_POINTS = 1.56,
+4.7 log-odds) reaches about 0.95 and every negative rule together (MIN_TOTAL_POINTS = -0.40)
about 0.05: the probability range is used with no pile-up at either end.

Two corrections to the seed's rules, both explained where they are defined:
- a lead with no inbound activity at all gets a small penalty (the seed's brand-new lead with a full
  profile came out WARM on profile alone, although nothing showed intent yet);
- "days without engagement" is the days since the last inbound activity, or the lead's age when it
  never engaged (the feature itself is null then, which the seed wrongly filled with the age).

The kinds of rule (flag, choice, threshold, ...) are in rules_terms.py.
"""

from __future__ import annotations

import math
from typing import Any

from leadml.predict.rules_terms import (
    AtLeast,
    CappedCounts,
    Choice,
    Flag,
    NoActivity,
    Scaled,
    Stale,
    Term,
)

BASE_PROBABILITY = 0.15
BASE_LOG_ODDS = math.log(BASE_PROBABILITY / (1.0 - BASE_PROBABILITY))
LOG_ODDS_PER_POINT = 3.0

CATEGORIES = ("demographic", "behavioral", "temporal", "engagement")
# The seed document's weights of the 0-100 score.
CATEGORY_WEIGHTS = {"demographic": 25.0, "behavioral": 35.0, "temporal": 20.0, "engagement": 20.0}

# Confidence = 0.5 + activity + profile + recency, at most 0.95 (see rules.rule_confidence()).
CONFIDENCE_BASE = 0.5
CONFIDENCE_ACTIVITY = 0.20  # times min(totalActivities, 20) / 20
CONFIDENCE_ACTIVITY_SATURATION = 20.0
CONFIDENCE_PROFILE = 0.15  # times the share of the 5 profile facts that are known
CONFIDENCE_RECENCY = 0.10  # times recencyScore / 100
CONFIDENCE_MAX = 0.95

# Days to close (seed constants).
DAYS_BASE = 60.0
DAYS_PER_PROBABILITY = -30.0
DAYS_SENIORITY = {"c_level": -10.0, "vp": -7.0, "director": -5.0}
DAYS_VELOCITY = ((1.0, -10.0), (0.5, -5.0))  # velocity strictly above -> days
DAYS_STALE_AFTER = 14.0
DAYS_STALE = 15.0
DAYS_MIN, DAYS_MAX = 7.0, 180.0
INTERVAL_SPREAD = 0.5  # interval = +-(1 - confidence) * days * 0.5

DECISION_MAKERS = ("c_level", "vp", "director")


TERMS: tuple[Term, ...] = (
    # Demographic: who the lead is.
    Flag("hasCompany", "demographic", 0.08, "company known"),
    Flag("hasTitle", "demographic", 0.08, "job title known"),
    Flag("hasPhone", "demographic", 0.04, "phone number known"),
    Choice("emailDomainType", "demographic",
           {"corporate": 0.10, "government": 0.08, "edu": 0.05, "free": -0.05}, "{value} email domain"),
    Choice("titleSeniority", "demographic",
           {"c_level": 0.15, "vp": 0.12, "director": 0.10, "manager": 0.05}, "seniority: {value}"),
    Choice("companySizeEstimate", "demographic",
           {"enterprise": 0.08, "mid_market": 0.05, "startup": 0.03, "smb": 0.02}, "company size: {value}"),
    # Behavioral: what the lead did.
    CappedCounts(
        "behavioral",
        {"emailOpenCount": 0.02, "emailClickCount": 0.05, "pageViewCount": 0.01,
         "formSubmitCount": 0.08, "meetingCount": 0.10, "callCount": 0.06},
        0.25,
        {"emailOpenCount": "{value:.0f} email opens", "emailClickCount": "{value:.0f} email clicks",
         "pageViewCount": "{value:.0f} page views", "formSubmitCount": "{value:.0f} form submissions",
         "meetingCount": "{value:.0f} meetings", "callCount": "{value:.0f} calls"},
    ),
    AtLeast("activityVelocity", "behavioral", 0.5, 0.10, "{value:.2f} activities per day"),
    AtLeast("channelDiversity", "behavioral", 3, 0.08, "active on {value:.0f} channels"),
    NoActivity("behavioral", -0.10),
    # Temporal: when.
    Scaled("recencyScore", "temporal", 0.15, 100.0, "recency score {value:.0f}/100"),
    Flag("activityBurst", "temporal", 0.10, "burst of activity (3+ in 24 hours)"),
    Stale("temporal", ((30.0, -0.25), (14.0, -0.15))),
    # Engagement: how the lead answers our outreach.
    AtLeast("emailOpenRate", "engagement", 0.3, 0.08, "email open rate {value:.0%}"),
    AtLeast("emailClickRate", "engagement", 0.1, 0.10, "email click rate {value:.0%}"),
    Scaled("sequenceEngagement", "engagement", 0.12, 1.0, "{value:.0%} through the nurture sequence"),
    Flag("isInActiveSequence", "engagement", 0.05, "in an active nurture sequence"),
)

# The most points each category can reach (its score share is points / this, clipped to [0, 1]).
CATEGORY_MAX_POINTS = {
    c: sum(t.max_points() for t in TERMS if t.category == c) for c in CATEGORIES
}

# The whole range of the rules, in seed points: every positive rule at once, every negative one.
MAX_TOTAL_POINTS = sum(t.max_points() for t in TERMS)
MIN_TOTAL_POINTS = sum(t.min_points() for t in TERMS)

FEATURE_CATEGORY = {
    "daysSinceLastActivity": "temporal",
    **{name: t.category for t in TERMS if isinstance(t, CappedCounts) for name in t.per_activity},
    **{t.feature: t.category for t in TERMS if not isinstance(t, CappedCounts)},
}


def rule_weights() -> list[dict[str, Any]]:
    """Feature importance of the rules (for when no model is trained): the largest change each
    feature's rule can make (one activity for the activity counts), as a share of the total."""
    raw: dict[str, float] = {}
    for term in TERMS:
        if isinstance(term, CappedCounts):
            for name, pts in term.per_activity.items():
                raw[name] = pts  # one activity of the type
            continue
        if isinstance(term, Choice):
            size = max(abs(v) for v in term.points.values())
        elif isinstance(term, Stale):
            size = max(abs(p) for _, p in term.tiers)
        elif isinstance(term, Scaled):
            size = abs(term.points_at_max)
        else:
            size = abs(term.points)
        raw[term.feature] = size
    total = sum(raw.values())
    return sorted(
        ({"name": k, "importance": v / total, "category": FEATURE_CATEGORY.get(k, "temporal")} for k, v in raw.items()),
        key=lambda row: -row["importance"],
    )
