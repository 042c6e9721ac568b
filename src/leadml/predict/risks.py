"""Risk factors: what may stop a lead from converting (SPEC section 5, the seed's set corrected).

Usable by any predictor: it reads the flat feature mapping and the probability, and optionally the
predictor's signed reasons. Positive signals (decision maker, high-value engagement, strong email
engagement, an activity burst) are never risks; they belong in the top positive reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from leadml.predict.result import Reason, RiskFactor
from leadml.predict.rules_terms import days_without_engagement, flag, label, number

Trend = Literal["improving", "stable", "declining"]
_IMPACT_ORDER = {"high": 0, "medium": 1, "low": 2}

STALE_MEDIUM_DAYS = 14.0
STALE_HIGH_DAYS = 30.0
LOW_VELOCITY = 0.1  # activities per day, judged once the lead is a week old
LOW_OPEN_RATE = 0.2

# Which features each built-in risk is about (to avoid repeating them from a model's reasons).
_RISK_FEATURES = {
    "Stale lead": {"daysSinceLastActivity", "recencyScore"},
    "No engagement": {"totalActivities", "daysSinceLastActivity", "recencyScore", "emailOpenCount",
                      "emailClickCount", "pageViewCount", "formSubmitCount", "meetingCount", "callCount",
                      "highValueActionCount"},
    "Personal email": {"emailDomainType"},
    "Unknown company": {"hasCompany", "companySizeEstimate"},
    "Missing title": {"hasTitle", "titleSeniority"},
    "Low activity velocity": {"activityVelocity"},
    "Low email engagement": {"emailOpenRate", "emailClickRate"},
}
BUILT_IN_RISKS = frozenset(_RISK_FEATURES)


def engagement_trend(features: Mapping[str, Any]) -> Trend:
    """Declining when stale, improving with recent activity (or a recent burst), else stable."""
    days = days_without_engagement(features)
    if days > STALE_MEDIUM_DAYS:
        return "declining"
    if features.get("daysSinceLastActivity") is not None and (
        days <= 3 or (flag(features, "activityBurst") and days <= 7)
    ):
        return "improving"
    return "stable"


def emails_were_sent(features: Mapping[str, Any]) -> bool:
    """Whether we emailed the lead. The rates are opens / sends, so a defined rate means sends;
    an explicit `emailSentCount`, when the extractor provides one, decides."""
    sent = features.get("emailSentCount")
    if sent is not None:
        return float(sent) > 0
    if features.get("emailOpenRate") is None:
        return False
    return (
        number(features, "emailOpenRate") > 0
        or number(features, "emailClickRate") > 0
        or flag(features, "isInActiveSequence")
        or number(features, "sequenceEngagement") > 0
    )


def _built_in(features: Mapping[str, Any], trend: Trend) -> list[RiskFactor]:
    risks: list[RiskFactor] = []
    days = days_without_engagement(features)
    total = number(features, "totalActivities")
    age = number(features, "daysSinceCreated")
    if total <= 0:
        impact = "high" if age > STALE_MEDIUM_DAYS else "medium" if age > 3 else "low"
        risks.append(RiskFactor("No engagement", impact, 0, trend,
                                f"No inbound activity yet (the lead was created {age:.0f} days ago)."))
    elif days > STALE_MEDIUM_DAYS:
        impact = "high" if days > STALE_HIGH_DAYS else "medium"
        risks.append(RiskFactor("Stale lead", impact, round(days, 1), trend,
                                f"No engagement for {days:.0f} days; interest fades quickly after two weeks."))
    if label(features, "emailDomainType") == "free":
        risks.append(RiskFactor("Personal email", "medium", "free", trend,
                                "Uses a personal (free webmail) address, a weaker buying signal than a work address."))
    if not flag(features, "hasCompany"):
        risks.append(RiskFactor("Unknown company", "medium", None, trend,
                                "No company on record: fit and deal size cannot be judged."))
    if not flag(features, "hasTitle"):
        risks.append(RiskFactor("Missing title", "low", None, trend,
                                "No job title: the contact's role in the buying decision is unknown."))
    velocity = number(features, "activityVelocity")
    if total > 0 and age >= 7 and velocity < LOW_VELOCITY:
        risks.append(RiskFactor("Low activity velocity", "low", round(velocity, 3), trend,
                                f"{velocity:.2f} activities per day since creation; engagement is sparse."))
    open_rate = number(features, "emailOpenRate")
    if emails_were_sent(features) and open_rate < LOW_OPEN_RATE:
        impact = "medium" if open_rate < LOW_OPEN_RATE / 2 else "low"
        risks.append(RiskFactor("Low email engagement", impact, round(open_rate, 3), trend,
                                f"Opens {open_rate:.0%} of our emails; the messages are not landing."))
    return risks


def _reason_impact(contribution: float) -> Literal["high", "medium", "low"]:
    size = abs(contribution)
    return "high" if size >= 0.7 else "medium" if size >= 0.35 else "low"


def risk_factors(
    features: Mapping[str, Any],
    probability: float,
    reasons: Sequence[Reason] | None = None,
    *,
    min_reason_contribution: float = 0.2,
) -> list[RiskFactor]:
    """The lead's risk factors, most serious first.

    With `reasons` (a predictor's signed contributions, log-odds) a built-in risk is dropped when the
    predictor found its features net positive (never call a positive signal a risk), and negative
    reasons of at least `min_reason_contribution` not covered by a built-in risk become risks too
    (e.g. a custom attribute a trained model learned to distrust).
    """
    trend = engagement_trend(features)
    risks = _built_in(features, trend)
    if reasons:
        net: dict[str, float] = {}
        for r in reasons:
            net[r.feature] = net.get(r.feature, 0.0) + r.contribution
        risks = [
            risk for risk in risks
            if sum(net.get(name, 0.0) for name in _RISK_FEATURES[risk.factor]) <= 0
            or not any(name in net for name in _RISK_FEATURES[risk.factor])
        ]
        covered = set().union(*(_RISK_FEATURES[risk.factor] for risk in risks)) if risks else set()
        for r in sorted(reasons, key=lambda r: r.contribution):
            if r.contribution > -min_reason_contribution or r.feature in covered:
                continue
            covered.add(r.feature)
            risks.append(RiskFactor(r.feature, _reason_impact(r.contribution), r.value, trend,
                                    f"{r.text[:1].upper()}{r.text[1:]} lowers the conversion odds."))
    risks.sort(key=lambda risk: _IMPACT_ORDER[risk.impact])
    # A very likely lead's profile gaps matter less than its momentum; keep them but say so.
    if probability >= 0.7:
        for risk in risks:
            if risk.factor in ("Missing title", "Unknown company"):
                risk.impact = "low"
        risks.sort(key=lambda risk: _IMPACT_ORDER[risk.impact])
    return risks
