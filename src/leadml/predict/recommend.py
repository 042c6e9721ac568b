"""Recommended next actions (SPEC section 5, the seed's set), usable by any predictor.

Reads the flat feature mapping and the conversion probability, and optionally the predictor's signed
reasons (to name the strongest driver in the rationale). Most urgent first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from leadml.predict.result import Reason, Recommendation
from leadml.predict.risks import LOW_OPEN_RATE, STALE_MEDIUM_DAYS, emails_were_sent
from leadml.predict.rules_spec import DECISION_MAKERS
from leadml.predict.rules_terms import days_without_engagement, flag, label, number, pretty

_PRIORITY_ORDER = {"urgent": 0, "high": 1, "medium": 2, "low": 3}

URGENT_PROBABILITY = 0.7
NURTURE_BELOW_PROBABILITY = 0.5
LITTLE_ACTIVITY = 3  # a decision maker with fewer inbound activities than this deserves a direct touch


def recommendations(
    features: Mapping[str, Any],
    probability: float,
    reasons: Sequence[Reason] | None = None,
) -> list[Recommendation]:
    recs: list[Recommendation] = []
    top_driver = max((r for r in reasons or () if r.contribution > 0), key=lambda r: r.contribution, default=None)
    days = days_without_engagement(features)
    total = number(features, "totalActivities")
    seniority = label(features, "titleSeniority")

    if probability >= URGENT_PROBABILITY:
        why = f"Conversion probability is {probability:.0%}"
        if top_driver is not None:
            why += f", driven by {top_driver.text}"
        recs.append(Recommendation(
            "urgent", "Schedule a demo or discovery call within 24 hours", why + "; strike while interest is high.",
            "Highest chance to convert while the lead is engaged", "within 24 hours"))
    if days > STALE_MEDIUM_DAYS and total > 0:
        recs.append(Recommendation(
            "high", "Re-engage with a personalised check-in",
            f"No engagement for {days:.0f} days; without a touch the lead keeps cooling.",
            "Resets recency and reveals whether the need is still there", "this week"))
    if seniority in DECISION_MAKERS and total < LITTLE_ACTIVITY:
        recs.append(Recommendation(
            "high", "Reach out directly by phone or personal email",
            f"A {pretty(seniority)} decision maker with only {total:.0f} inbound activities so far.",
            "Decision makers shorten the sales cycle when engaged personally", "within 2 days"))
    if not flag(features, "hasCompany"):
        recs.append(Recommendation(
            "medium", "Research the lead's company",
            "No company on record, so fit and deal size are unknown.",
            "Better qualification and a more relevant pitch", "within 3 days"))
    if not flag(features, "isInActiveSequence") and probability < NURTURE_BELOW_PROBABILITY:
        recs.append(Recommendation(
            "medium", "Enroll in a nurture sequence",
            f"Conversion probability is {probability:.0%} and the lead is in no active sequence.",
            "Keeps the lead warm at low cost until it shows intent", "this week"))
    open_rate = number(features, "emailOpenRate")
    if emails_were_sent(features) and open_rate < LOW_OPEN_RATE:
        recs.append(Recommendation(
            "medium", "Try new subject lines",
            f"Only {open_rate:.0%} of our emails are opened.",
            "More opens, and a fair read of the lead's interest", "next send"))
    if not recs:
        recs.append(Recommendation(
            "low", "Monitor engagement and re-score weekly",
            "No specific action is needed now.", "Catch changes in interest early", "weekly"))
    recs.sort(key=lambda rec: _PRIORITY_ORDER[rec.priority])
    return recs
