"""The transparent rule predictor (SPEC section 5): seed mistakes pinned, shape and consistency."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadml.predict import rules_spec
from leadml.predict.result import Reason, Thresholds, score_level
from leadml.predict.recommend import recommendations
from leadml.predict.risks import risk_factors
from leadml.predict.rules import predict_rules, predict_rules_table
from leadml.predict.whatif import with_activity

WEIGHTS = {"demographic": 25.0, "behavioral": 35.0, "temporal": 20.0, "engagement": 20.0}
POSITIVE_SIGNALS = {"decision maker", "high-value engagement", "email engagement", "activity burst",
                    "strong email engagement", "titleseniority", "activityburst", "meetingcount"}


def lead(**changes: Any) -> dict[str, Any]:
    """A complete feature mapping for a bare lead (no profile, no activity), with changes applied."""
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


FULL_PROFILE = dict(hasCompany=True, hasTitle=True, hasPhone=True, emailDomainType="corporate",
                    titleSeniority="c_level", companySizeEstimate="enterprise")


def engaged(**changes: Any) -> dict[str, Any]:
    """Activity on top of a lead, kept consistent (totals, velocity, recency)."""
    opens, clicks, views, forms, meetings, calls = (changes.pop(k, 0) for k in (
        "emailOpenCount", "emailClickCount", "pageViewCount", "formSubmitCount", "meetingCount", "callCount"))
    age = changes.pop("daysSinceCreated", 30.0)
    last = changes.pop("daysSinceLastActivity", 1.0)
    total = opens + clicks + views + forms + meetings + calls
    channels = sum(x > 0 for x in (opens + clicks, views, forms, meetings, calls))
    return lead(
        emailOpenCount=opens, emailClickCount=clicks, pageViewCount=views, formSubmitCount=forms,
        meetingCount=meetings, callCount=calls, totalActivities=total, activityVelocity=total / max(age, 1.0),
        channelDiversity=channels, highValueActionCount=forms + meetings + calls, daysSinceCreated=age,
        daysSinceLastActivity=last if total else None,
        recencyScore=100 * 0.5 ** (last / 7) if total else 0.0, **changes)


def random_lead(rng: np.random.Generator) -> dict[str, Any]:
    counts = {k: int(rng.poisson(lam)) * int(rng.random() < 0.7) for k, lam in (
        ("emailOpenCount", 4), ("emailClickCount", 1.5), ("pageViewCount", 5), ("formSubmitCount", 0.7),
        ("meetingCount", 0.5), ("callCount", 0.6))}
    age = float(rng.uniform(0, 200))
    sent = int(rng.poisson(6)) if rng.random() < 0.7 else 0
    return engaged(
        **counts, daysSinceCreated=age, daysSinceLastActivity=float(rng.uniform(0, age)),
        hasCompany=bool(rng.random() < 0.6), hasTitle=bool(rng.random() < 0.6), hasPhone=bool(rng.random() < 0.4),
        emailDomainType=str(rng.choice(["corporate", "free", "edu", "government", "unknown"])),
        titleSeniority=str(rng.choice(["c_level", "vp", "director", "manager", "individual", "unknown"])),
        companySizeEstimate=str(rng.choice(["enterprise", "mid_market", "smb", "startup", "unknown"])),
        activityBurst=bool(rng.random() < 0.2),
        emailOpenRate=min(counts["emailOpenCount"] / sent, 1.0) if sent else None,
        emailClickRate=min(counts["emailClickCount"] / sent, 1.0) if sent else None,
        sequenceEngagement=float(rng.choice([0.0, rng.uniform(0, 1)])),
        isInActiveSequence=bool(rng.random() < 0.3),
        avgResponseTime=float(rng.uniform(0, 100)) if rng.random() < 0.5 else None,
    )


# --- seed mistakes, pinned --------------------------------------------------------------------


def test_brand_new_lead_with_full_profile_is_below_warm():
    result = predict_rules(lead(**FULL_PROFILE))
    assert result.probability < 0.5
    assert result.score_level in ("COLD", "DEAD")
    assert result.source == "rules"


def test_no_pile_up_at_the_clamps():
    rng = np.random.default_rng(7)
    probs = np.array([predict_rules(random_lead(rng)).probability for _ in range(400)])
    assert np.all((probs > 0) & (probs < 1))
    assert np.mean((probs <= 0.011) | (probs >= 0.989)) == 0.0
    assert probs.std() > 0.12  # spread out, not squeezed to a few values
    assert len(np.unique(np.round(probs, 2))) > 40
    # Every positive signal at once stays away from the old 0.99 clamp, the worst lead from 0.01.
    best = engaged(**FULL_PROFILE, emailOpenCount=20, emailClickCount=10, meetingCount=5, callCount=5,
                   formSubmitCount=3, pageViewCount=30, daysSinceLastActivity=0.0, activityBurst=True,
                   emailOpenRate=0.9, emailClickRate=0.5, sequenceEngagement=1.0, isInActiveSequence=True)
    worst = lead(emailDomainType="free", daysSinceCreated=400.0)
    assert 0.9 < predict_rules(best).probability < 0.98
    assert 0.02 < predict_rules(worst).probability < 0.1


def test_config_thresholds_decide_the_level():
    features = engaged(**FULL_PROFILE, emailOpenCount=3, pageViewCount=4)
    p = predict_rules(features).probability
    assert predict_rules(features, thresholds=Thresholds(hot=p * 100 - 1, warm=10, cold=5)).score_level == "HOT"
    assert predict_rules(features, thresholds=Thresholds(hot=99, warm=p * 100 + 1, cold=5)).score_level == "COLD"
    assert predict_rules(features, thresholds=Thresholds(hot=99, warm=98, cold=p * 100 + 1)).score_level == "DEAD"
    assert predict_rules(features).score_level == score_level(p, Thresholds())


def test_a_lead_that_never_engaged_goes_stale_with_age():
    young = predict_rules(lead(**FULL_PROFILE, daysSinceCreated=2.0))
    old = predict_rules(lead(**FULL_PROFILE, daysSinceCreated=60.0))
    assert old.probability < young.probability
    assert any(r.feature == "daysSinceLastActivity" for r in old.top_negative)
    assert old.predicted_days > young.predicted_days


# --- characteristic leads ---------------------------------------------------------------------


def test_engaged_decision_maker_at_corporate_domain_is_hot():
    features = engaged(**{**FULL_PROFILE, "titleSeniority": "vp"}, emailOpenCount=5, emailClickCount=2, meetingCount=2,
                       callCount=1, pageViewCount=6, daysSinceCreated=15.0, daysSinceLastActivity=1.0,
                       emailOpenRate=0.5, emailClickRate=0.2)
    result = predict_rules(features)
    assert result.score_level == "HOT"
    assert result.recommendations[0].priority == "urgent"
    assert result.recommendations[0].action == "Schedule a demo or discovery call within 24 hours"
    assert result.predicted_days < 30


def test_stale_free_mail_lead_is_cold_or_dead():
    features = engaged(emailDomainType="free", hasTitle=True, titleSeniority="individual", emailOpenCount=3,
                       pageViewCount=2, daysSinceCreated=90.0, daysSinceLastActivity=45.0, emailOpenRate=0.15)
    result = predict_rules(features)
    assert result.score_level in ("COLD", "DEAD")
    factors = {r.factor: r for r in result.risk_factors}
    assert factors["Stale lead"].impact == "high"
    assert factors["Stale lead"].trend == "declining"
    assert "Personal email" in factors
    assert any(r.action.startswith("Re-engage") for r in result.recommendations)


# --- monotonicity -----------------------------------------------------------------------------

seeds = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=150, deadline=None)
@given(seed=seeds, extra=st.integers(min_value=1, max_value=5))
def test_more_meetings_never_lower_probability(seed, extra):
    features = random_lead(np.random.default_rng(seed))
    before = predict_rules(features).probability
    assert predict_rules({**features, "meetingCount": features["meetingCount"] + extra}).probability >= before
    assert predict_rules(with_activity(features, "meeting", extra)).probability >= before


@settings(max_examples=150, deadline=None)
@given(seed=seeds, later=st.floats(min_value=0.5, max_value=120))
def test_staleness_never_raises_probability(seed, later):
    features = random_lead(np.random.default_rng(seed))
    if features["daysSinceLastActivity"] is None:
        staler = {**features, "daysSinceCreated": features["daysSinceCreated"] + later}
    else:
        days = features["daysSinceLastActivity"] + later
        staler = {**features, "daysSinceLastActivity": days, "recencyScore": 100 * 0.5 ** (days / 7)}
    assert predict_rules(staler).probability <= predict_rules(features).probability


# --- structure of the result ------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(seed=seeds)
def test_result_is_consistent(seed):
    features = random_lead(np.random.default_rng(seed))
    r = predict_rules(features)
    assert 0 < r.probability < 1
    assert 0.5 <= r.confidence <= 0.95
    # Reasons are exact log-odds contributions.
    from leadml.predict.rules import rule_reasons
    log_odds = rules_spec.BASE_LOG_ODDS + sum(x.contribution for x in rule_reasons(features))
    assert r.probability == pytest.approx(1 / (1 + math.exp(-log_odds)), abs=1e-12)
    assert all(x.contribution > 0 for x in r.top_positive)
    assert all(x.contribution < 0 for x in r.top_negative)
    assert all(x.category in WEIGHTS for x in r.top_positive + r.top_negative)
    # Breakdown.
    assert set(r.score_breakdown) == set(WEIGHTS)
    assert sum(r.score_breakdown.values()) == pytest.approx(r.score, abs=1e-9)
    for category, value in r.score_breakdown.items():
        assert 0.0 <= value <= WEIGHTS[category] + 1e-9
    # Days and interval.
    assert 7 <= r.predicted_days <= 180
    assert 60 + sum(f["impact"] for f in r.time_factors) == pytest.approx(r.predicted_days)
    half = (1 - r.confidence) * r.predicted_days * 0.5
    assert r.interval_high == pytest.approx(r.predicted_days + half)
    assert r.interval_low == pytest.approx(max(r.predicted_days - half, 7.0))
    assert r.interval_low <= r.predicted_days <= r.interval_high
    # Positive signals are never risks.
    for risk in r.risk_factors:
        assert risk.factor.lower() not in POSITIVE_SIGNALS
        assert risk.trend in ("improving", "stable", "declining")
    assert r.recommendations
    assert f"{r.probability:.0%}" in r.explanation and r.score_level in r.explanation


def test_days_to_close_follows_the_seed_formula():
    features = engaged(titleSeniority="c_level", meetingCount=30, daysSinceCreated=20.0, daysSinceLastActivity=1.0)
    assert features["activityVelocity"] > 1
    r = predict_rules(features)
    assert r.predicted_days == pytest.approx(60 - 30 * r.probability - 10 - 10)
    slow = engaged(titleSeniority="director", pageViewCount=12, daysSinceCreated=20.0, daysSinceLastActivity=20.0)
    assert 0.5 < slow["activityVelocity"] <= 1
    r = predict_rules(slow)
    assert r.predicted_days == pytest.approx(60 - 30 * r.probability - 5 - 5 + 15)


def test_confidence_grows_with_evidence():
    bare = predict_rules(lead()).confidence
    assert bare == pytest.approx(0.5)
    profile = predict_rules(lead(**FULL_PROFILE)).confidence
    active = predict_rules(engaged(**FULL_PROFILE, emailOpenCount=10, pageViewCount=15,
                                   daysSinceLastActivity=0.0)).confidence
    assert bare < profile < active <= 0.95
    assert active == pytest.approx(0.95)


def test_positive_signals_are_reasons_not_risks():
    features = engaged(titleSeniority="c_level", hasTitle=True, meetingCount=2, callCount=2, formSubmitCount=1,
                       emailOpenCount=4, daysSinceLastActivity=0.5, activityBurst=True,
                       emailOpenRate=0.8, emailClickRate=0.4)
    r = predict_rules(features)
    positive = {x.feature for x in r.top_positive}
    assert {"titleSeniority", "meetingCount"} <= positive
    assert all(x.factor.lower() not in POSITIVE_SIGNALS for x in r.risk_factors)
    assert {x.factor for x in r.risk_factors} <= {"Unknown company", "Personal email"}


def test_acceleration_opportunities_are_rescored_what_ifs():
    features = engaged(**{**FULL_PROFILE, "titleSeniority": "manager"}, emailOpenCount=2, daysSinceCreated=40.0,
                       daysSinceLastActivity=20.0)
    r = predict_rules(features)
    chances = {c["action"]: c for c in r.acceleration_opportunities}
    assert {"Book a meeting", "Get the lead on a call", "Bring in a decision maker"} <= set(chances)
    after = predict_rules(with_activity(features, "meeting")).predicted_days
    assert chances["Book a meeting"]["expectedDaysSaved"] == pytest.approx(r.predicted_days - after, abs=0.05)
    saved = [c["expectedDaysSaved"] for c in r.acceleration_opportunities]
    assert saved == sorted(saved, reverse=True) and min(saved) > 0


def test_missing_and_null_features_are_tolerated():
    assert predict_rules({}).probability == pytest.approx(predict_rules(lead()).probability)
    nulls = {k: None for k in lead()}
    assert predict_rules(nulls).probability == pytest.approx(predict_rules(lead()).probability)


# --- risk factors and recommendations (also used by the model source) -------------------------


@pytest.mark.parametrize(("days", "impact"), [(10.0, None), (20.0, "medium"), (45.0, "high")])
def test_stale_lead_risk(days, impact):
    features = engaged(hasCompany=True, hasTitle=True, pageViewCount=3, daysSinceCreated=90.0,
                       daysSinceLastActivity=days)
    found = {r.factor: r.impact for r in risk_factors(features, 0.3)}
    assert found.get("Stale lead") == impact


def test_profile_risks_and_trend():
    recent = engaged(emailDomainType="free", pageViewCount=3, daysSinceLastActivity=1.0)
    risks = {r.factor: r for r in risk_factors(recent, 0.3)}
    assert {"Personal email", "Unknown company", "Missing title"} <= set(risks)
    assert all(r.trend == "improving" for r in risks.values())
    never = lead(daysSinceCreated=30.0)
    risks = {r.factor: r for r in risk_factors(never, 0.1)}
    assert risks["No engagement"].impact == "high" and "Stale lead" not in risks
    slow = engaged(hasCompany=True, hasTitle=True, pageViewCount=2, daysSinceCreated=100.0, daysSinceLastActivity=9.0)
    risks = {r.factor: r for r in risk_factors(slow, 0.2)}
    assert "Low activity velocity" in risks and risks["Low activity velocity"].trend == "stable"


def test_risks_follow_a_models_signed_reasons():
    features = engaged(emailDomainType="free", hasCompany=True, hasTitle=True, pageViewCount=4)
    model_reasons = [
        Reason("emailDomainType", "demographic", "free", 0.4, "personal email domain"),
        Reason("attr.source", "custom", "cold list", -0.9, "lead source cold list"),
        Reason("attr.industry", "custom", "education", 0.8, "industry education"),
    ]
    risks = {r.factor: r for r in risk_factors(features, 0.4, model_reasons)}
    assert "Personal email" not in risks  # the model found it positive: not a risk
    assert risks["attr.source"].impact == "high"
    assert "attr.industry" not in risks


def test_recommendations_seed_set():
    def actions(features, p):
        return [r.action for r in recommendations(features, p)]

    assert actions(lead(), 0.8)[0] == "Schedule a demo or discovery call within 24 hours"
    assert "Research the lead's company" in actions(lead(), 0.3)
    assert "Enroll in a nurture sequence" in actions(lead(hasCompany=True), 0.3)
    assert "Enroll in a nurture sequence" not in actions(lead(hasCompany=True, isInActiveSequence=True), 0.3)
    assert "Enroll in a nurture sequence" not in actions(lead(hasCompany=True), 0.6)
    low_opens = engaged(hasCompany=True, emailOpenCount=1, emailOpenRate=0.05)
    assert "Try new subject lines" in actions(low_opens, 0.3)
    assert "Try new subject lines" not in actions(lead(hasCompany=True, emailOpenRate=None), 0.3)
    boss = lead(hasCompany=True, titleSeniority="vp", hasTitle=True)
    assert "Reach out directly by phone or personal email" in actions(boss, 0.3)
    busy_boss = engaged(hasCompany=True, titleSeniority="vp", hasTitle=True, meetingCount=2, callCount=2)
    assert "Reach out directly by phone or personal email" not in actions(busy_boss, 0.3)
    order = {"urgent": 0, "high": 1, "medium": 2, "low": 3}
    recs = recommendations(engaged(pageViewCount=2, daysSinceCreated=60.0, daysSinceLastActivity=40.0), 0.75)
    assert [order[r.priority] for r in recs] == sorted(order[r.priority] for r in recs)


# --- the vectorized path ----------------------------------------------------------------------


def test_table_gives_the_same_numbers_as_one_lead():
    rng = np.random.default_rng(11)
    leads = [random_lead(rng) for _ in range(300)] + [lead(), lead(**FULL_PROFILE)]
    thresholds = Thresholds(hot=60, warm=35, cold=15)
    frame = pl.DataFrame(leads, infer_schema_length=None).with_columns(
        lead_id=pl.int_range(100, 100 + len(leads), dtype=pl.Int64))
    table = predict_rules_table(frame, thresholds=thresholds)
    assert table.height == len(leads)
    assert table["lead_id"].to_list() == list(range(100, 100 + len(leads)))
    for row, features in zip(table.iter_rows(named=True), leads):
        r = predict_rules(features, thresholds=thresholds)
        for column, expected in (("probability", r.probability), ("confidence", r.confidence),
                                 ("score", r.score), ("predicted_days", r.predicted_days),
                                 ("interval_low", r.interval_low), ("interval_high", r.interval_high),
                                 *((f"score_{c}", r.score_breakdown[c]) for c in WEIGHTS)):
            assert row[column] == pytest.approx(expected, abs=1e-9), column
        assert row["score_level"] == r.score_level


def test_table_tolerates_missing_columns():
    table = predict_rules_table(pl.DataFrame({"hasCompany": [True, None]}))
    assert table["lead_id"].to_list() == [0, 1]
    assert table["probability"][1] == pytest.approx(predict_rules(lead()).probability)
    assert table["probability"][0] == pytest.approx(predict_rules(lead(hasCompany=True)).probability)


# --- docs ---------------------------------------------------------------------------------------


def test_committed_rules_doc_is_generated_from_the_code():
    from leadml.predict.rules_doc import render

    committed = Path(__file__).resolve().parents[1] / "docs" / "rules.md"
    assert committed.read_text(encoding="utf-8") == render(), "run: python -m leadml.predict.rules_doc"


def test_doc_generator_check_mode(tmp_path):
    from leadml.predict.rules_doc import main

    target = tmp_path / "rules.md"
    assert main(["--check", "--output", str(target)]) == 1
    assert main(["--output", str(target)]) == 0
    assert main(["--check", "--output", str(target)]) == 0
    target.write_text(target.read_text(encoding="utf-8") + "edited\n", encoding="utf-8")
    assert main(["--check", "--output", str(target)]) == 1


def test_rule_weights_for_feature_importance():
    weights = rules_spec.rule_weights()
    assert sum(w["importance"] for w in weights) == pytest.approx(1.0)
    assert {w["category"] for w in weights} <= set(WEIGHTS)
    names = [w["name"] for w in weights]
    assert names.index("meetingCount") < names.index("pageViewCount")
