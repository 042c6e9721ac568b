"""Writes docs/rules.md from the code, so the documented rules are the rules that run.

    python -m leadml.predict.rules_doc            # (re)write docs/rules.md
    python -m leadml.predict.rules_doc --check    # exit 1 when docs/rules.md is out of date
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from leadml.predict import ranking, recommend, risks
from leadml.predict import rules_spec as spec
from leadml.predict import rules_terms as terms
from leadml.predict.rules import predict_rules


def _lead(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "hasCompany": False, "hasTitle": False, "hasPhone": False, "emailDomainType": "unknown",
        "titleSeniority": "unknown", "companySizeEstimate": "unknown", "emailOpenCount": 0,
        "emailClickCount": 0, "pageViewCount": 0, "formSubmitCount": 0, "meetingCount": 0, "callCount": 0,
        "totalActivities": 0, "activityVelocity": 0.0, "channelDiversity": 0, "highValueActionCount": 0,
        "daysSinceCreated": 0.0, "daysSinceLastActivity": None, "recencyScore": 0.0, "activityBurst": False,
        "dayPattern": "mixed", "timePattern": "mixed", "emailOpenRate": None, "emailClickRate": None,
        "sequenceEngagement": 0.0, "avgResponseTime": None, "isInActiveSequence": False,
    }
    base.update(changes)
    return base


def _recency(days: float) -> float:
    return 100.0 * 0.5 ** (days / 7.0)


# Characteristic leads; the numbers in the table below are computed from them.
EXAMPLE_LEADS: dict[str, dict[str, Any]] = {
    "Brand-new lead, full profile (CEO, corporate domain, enterprise), no activity": _lead(
        hasCompany=True, hasTitle=True, hasPhone=True, emailDomainType="corporate", titleSeniority="c_level",
        companySizeEstimate="enterprise"),
    "Engaged VP at a corporate domain (meetings, calls, burst, active sequence)": _lead(
        hasCompany=True, hasTitle=True, hasPhone=True, emailDomainType="corporate", titleSeniority="vp",
        companySizeEstimate="enterprise", emailOpenCount=6, emailClickCount=3, pageViewCount=8, formSubmitCount=1,
        meetingCount=3, callCount=2, totalActivities=23, activityVelocity=23 / 20, channelDiversity=5,
        highValueActionCount=6, daysSinceCreated=20.0, daysSinceLastActivity=1.0, recencyScore=_recency(1.0),
        activityBurst=True, emailOpenRate=0.6, emailClickRate=0.3, sequenceEngagement=0.8,
        avgResponseTime=5.0, isInActiveSequence=True),
    "Stale free-mail lead (a few opens, silent for 45 days)": _lead(
        hasTitle=True, emailDomainType="free", titleSeniority="individual", emailOpenCount=3, pageViewCount=2,
        totalActivities=5, activityVelocity=5 / 90, channelDiversity=2, daysSinceCreated=90.0,
        daysSinceLastActivity=45.0, recencyScore=_recency(45.0), emailOpenRate=0.15, emailClickRate=0.0),
    "Mid-funnel manager in a nurture sequence": _lead(
        hasCompany=True, hasTitle=True, emailDomainType="corporate", titleSeniority="manager",
        companySizeEstimate="mid_market", emailOpenCount=4, emailClickCount=1, pageViewCount=5,
        totalActivities=10, activityVelocity=10 / 30, channelDiversity=2, daysSinceCreated=30.0,
        daysSinceLastActivity=3.0, recencyScore=_recency(3.0), emailOpenRate=0.4, emailClickRate=0.1,
        sequenceEngagement=0.5, avgResponseTime=20.0, isInActiveSequence=True),
    "Student at an .edu address (page views and a form)": _lead(
        hasTitle=True, emailDomainType="edu", titleSeniority="individual", pageViewCount=3, formSubmitCount=1,
        totalActivities=4, activityVelocity=4 / 5, channelDiversity=2, highValueActionCount=1,
        daysSinceCreated=5.0, daysSinceLastActivity=2.0, recencyScore=_recency(2.0)),
    "Government director who never engaged (40 days old)": _lead(
        hasCompany=True, hasTitle=True, emailDomainType="government", titleSeniority="director",
        companySizeEstimate="enterprise", daysSinceCreated=40.0, emailOpenRate=0.0, emailClickRate=0.0,
        isInActiveSequence=True, sequenceEngagement=0.6),
    "Startup founder on free mail with a burst (forms, a meeting)": _lead(
        hasCompany=True, hasTitle=True, emailDomainType="free", titleSeniority="c_level",
        companySizeEstimate="startup", pageViewCount=6, formSubmitCount=2, meetingCount=1, totalActivities=9,
        activityVelocity=3.0, channelDiversity=3, highValueActionCount=3, daysSinceCreated=3.0,
        daysSinceLastActivity=0.5, recencyScore=_recency(0.5), activityBurst=True),
}


def _rules_table() -> list[str]:
    rows = ["| category | rule (seed points) | log-odds |", "| --- | --- | --- |"]
    for term in spec.TERMS:
        if isinstance(term, terms.Scaled):
            size = f"up to {spec.LOG_ODDS_PER_POINT * term.points_at_max:+.2f}"
        elif isinstance(term, terms.CappedCounts):
            each = ", ".join(f"{k} {spec.LOG_ODDS_PER_POINT * v:+.2f}" for k, v in term.per_activity.items())
            size = f"{each}; at most {spec.LOG_ODDS_PER_POINT * term.cap:+.2f}"
        elif isinstance(term, terms.Choice):
            size = ", ".join(f"{k} {spec.LOG_ODDS_PER_POINT * v:+.2f}" for k, v in term.points.items())
        elif isinstance(term, terms.Stale):
            size = ", ".join(f"> {d:g} d {spec.LOG_ODDS_PER_POINT * p:+.2f}" for d, p in term.tiers)
        else:
            size = f"{spec.LOG_ODDS_PER_POINT * term.points:+.2f}"
        rows.append(f"| {term.category} | {term.rule()} | {size} |")
    return rows


def _examples() -> list[str]:
    rows = [
        "| lead | probability | level | score (demographic / behavioral / temporal / engagement) "
        "| days to close (interval) | confidence | top risks | top recommendation |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    notes = []
    for name, features in EXAMPLE_LEADS.items():
        r = predict_rules(features)
        b = r.score_breakdown
        parts = " / ".join(f"{b[c]:.1f}" for c in spec.CATEGORIES)
        top_risks = ", ".join(f"{x.factor} ({x.impact})" for x in r.risk_factors[:3]) or "none"
        rec = r.recommendations[0]
        rows.append(
            f"| {name} | {r.probability:.3f} | {r.score_level} | {r.score:.1f} ({parts}) "
            f"| {r.predicted_days:.1f} ({r.interval_low:.1f}-{r.interval_high:.1f}) | {r.confidence:.2f} "
            f"| {top_risks} | {rec.action} ({rec.priority}) |"
        )
        notes.append(f"- **{name}**: {r.explanation}")
    return [*rows, "", "Their explanations, as `predict_rules` writes them:", "", *notes]


def _p(points: float) -> str:
    return f"{1 / (1 + math.exp(-(spec.BASE_LOG_ODDS + spec.LOG_ODDS_PER_POINT * points))):.3f}"


def render() -> str:
    k = spec.LOG_ODDS_PER_POINT
    weights = ", ".join(f"{c} {w:.0f}" for c, w in spec.CATEGORY_WEIGHTS.items())
    maxima = ", ".join(f"{c} {m:.2f}" for c, m in spec.CATEGORY_MAX_POINTS.items())
    lines = [
        "# The transparent rules (`source: \"rules\"`)",
        "",
        "<!-- Generated by `python -m leadml.predict.rules_doc` from src/leadml/predict/; do not edit. -->",
        "",
        "The cold-start predictor, used until a tenant has a trained model and whenever `ruleBasedOnly` is",
        "set. Input: one lead's features (SPEC section 4). Code: `predict/rules.py` (one lead),",
        "`predict/rules_table.py` (a whole table, same numbers), constants in `predict/rules_spec.py`.",
        "",
        "## Conversion probability",
        "",
        f"The seed system started at {spec.BASE_PROBABILITY} and *added* probability points, then clamped",
        "to [0.01, 0.99]; an engaged lead's points summed far past 1, so scores piled up at the clamps, and a",
        "brand-new lead with a full profile came out WARM. Here every seed bonus `b` keeps its sign and its",
        f"size relative to the others but is read on the log-odds scale: it adds `{k:g} * b` to",
        f"`logit({spec.BASE_PROBABILITY}) = {spec.BASE_LOG_ODDS:.4f}`, and the probability is",
        "",
        "    probability = sigmoid(logit(0.15) + sum of the rules' log-odds)",
        "",
        f"One factor ({k:g}) for all rules keeps the seed's ordering of signals. It was chosen so that all",
        f"positive rules together ({spec.MAX_TOTAL_POINTS:.2f} seed points) reach {_p(spec.MAX_TOTAL_POINTS)}"
        f" and all negative ones ({spec.MIN_TOTAL_POINTS:.2f}) {_p(spec.MIN_TOTAL_POINTS)}:",
        "the whole range is used and nothing piles up. Because the log-odds are a sum, each rule's term",
        "is an exact contribution; these are the `top_positive` / `top_negative` reasons. When the",
        "activity cap binds, the reasons credit the cap to the most valuable activity types first",
        "(meetings, forms, calls, clicks, opens, views).",
        "",
        "Corrections to the seed: a lead with no inbound activity gets a small penalty (profile alone is",
        "fit, not intent), and \"days without engagement\" is the days since the last inbound activity, or",
        "the lead's age when it never engaged. Missing values count as absent (false, unknown, 0).",
        "",
        *_rules_table(),
        "",
        "## Level",
        "",
        "`score_level(probability, thresholds)`: the config's thresholds on probability x 100",
        "(default HOT >= 80, WARM >= 50, COLD >= 20, else DEAD).",
        "",
        "## Confidence",
        "",
        f"    confidence = min({spec.CONFIDENCE_MAX}, {spec.CONFIDENCE_BASE}"
        f" + {spec.CONFIDENCE_ACTIVITY} * min(totalActivities, {spec.CONFIDENCE_ACTIVITY_SATURATION:g})"
        f" / {spec.CONFIDENCE_ACTIVITY_SATURATION:g}",
        f"                     + {spec.CONFIDENCE_PROFILE} * share of profile facts known"
        f" + {spec.CONFIDENCE_RECENCY} * recencyScore / 100)",
        "",
        "The profile facts: company, title, phone, a known email domain type, a known company size.",
        "More evidence, a fuller profile and fresher activity all make the rules surer.",
        "",
        "## Days to close",
        "",
        f"    days = clamp({spec.DAYS_BASE:g} - {-spec.DAYS_PER_PROBABILITY:g} * probability"
        " + seniority + velocity + inactivity, "
        f"{spec.DAYS_MIN:g}, {spec.DAYS_MAX:g})",
        "",
        "- seniority: " + ", ".join(f"{k_} {v:+g}" for k_, v in spec.DAYS_SENIORITY.items()),
        "- velocity: " + ", ".join(f"> {a:g}/day {d:+g}" for a, d in spec.DAYS_VELOCITY),
        f"- inactivity: more than {spec.DAYS_STALE_AFTER:g} days without engagement {spec.DAYS_STALE:+g}",
        f"- interval: `days +- (1 - confidence) * days * {spec.INTERVAL_SPREAD}`, the low end at least"
        f" {spec.DAYS_MIN:g}",
        "",
        "`time_factors` lists each term's signed impact in days (60 plus the impacts is the estimate).",
        "`acceleration_opportunities` are what-ifs re-scored with the same rules: one more meeting, a call",
        "now (which also resets recency), and a director-level contact when the lead has no decision maker;",
        "each with `expectedDaysSaved`.",
        "",
        "## Score 0-100 and its breakdown",
        "",
        f"Weights: {weights}. Each category's sub-score is its weight times the share of the",
        "category's attainable rule points the lead reached (negative rules subtract), clipped to [0, 1];",
        f"the score is the sum of the four. Attainable points per category: {maxima}.",
        "The level still comes from the probability, so the score and the level can disagree a little.",
        "",
        "## Risk factors (`predict/risks.py`, shared with the model source)",
        "",
        f"- No engagement: no inbound activity (high after {risks.STALE_MEDIUM_DAYS:g} days, medium after 3,"
        " else low).",
        f"- Stale lead: more than {risks.STALE_MEDIUM_DAYS:g} days without engagement (medium), more than"
        f" {risks.STALE_HIGH_DAYS:g} (high).",
        "- Personal email (medium), Unknown company (medium), Missing title (low); the profile gaps drop"
        " to low when the probability is 0.7 or more.",
        f"- Low activity velocity: under {risks.LOW_VELOCITY:g} activities a day once the lead is a week old"
        " (low).",
        f"- Low email engagement: emails were sent and the open rate is under {risks.LOW_OPEN_RATE:g}"
        f" (medium under {risks.LOW_OPEN_RATE / 2:g}, else low).",
        "",
        "Trend: declining when stale, improving with activity in the last 3 days (or a burst in the last",
        "7), else stable. Decision makers, high-value engagement, strong email engagement and bursts are",
        "positive signals: they appear in `top_positive`, never as risks. Given a predictor's signed",
        "reasons, a built-in risk the predictor found net positive is dropped and strong negative reasons",
        "not covered above become risks.",
        "",
        "## Recommendations (`predict/recommend.py`, shared with the model source)",
        "",
        f"- urgent: probability >= {recommend.URGENT_PROBABILITY:g}: schedule a demo or discovery call within"
        " 24 hours.",
        f"- high: stale (more than {risks.STALE_MEDIUM_DAYS:g} days) after some activity: re-engage.",
        f"- high: a C-level, VP or director with fewer than {recommend.LITTLE_ACTIVITY} inbound activities:"
        " reach out directly.",
        "- medium: no company: research it.",
        f"- medium: not in an active sequence and probability < {recommend.NURTURE_BELOW_PROBABILITY:g}:"
        " enroll in nurture.",
        f"- medium: emails were sent and the open rate is under {risks.LOW_OPEN_RATE:g}: new subject lines.",
        "- low, when nothing else applies: monitor and re-score weekly.",
        "",
        "## Priority (`predict/ranking.py`)",
        "",
        f"    priorityScore = 100 * ({ranking.PROBABILITY_WEIGHT} * probability"
        f" + {ranking.RECENCY_WEIGHT} * recencyScore / 100",
        f"                         + {ranking.CLOSENESS_WEIGHT} * ({ranking.SLOWEST_DAYS:g} - days)"
        f" / ({ranking.SLOWEST_DAYS:g} - {ranking.FASTEST_DAYS:g}))",
        "",
        "Days are clipped to that range; a missing recency or days to close counts as no urgency (0).",
        "Tiers are fixed bands: " + ", ".join(
            f"{t} >= {b:g}" for t, b in zip(ranking.TIERS, ranking.DEFAULT_BANDS)) + ", low below.",
        "",
        "## Characteristic leads (default thresholds)",
        "",
        *_examples(),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("docs/rules.md"))
    parser.add_argument("--check", action="store_true", help="fail when the file differs from the code")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run python -m leadml.predict.rules_doc", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
