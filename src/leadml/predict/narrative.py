"""The readable paragraph that goes with a prediction, built from computed facts only (any source)."""

from __future__ import annotations

from collections.abc import Sequence

from leadml.predict.result import Reason, RiskFactor


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def explanation_text(
    *,
    probability: float,
    level: str,
    top_positive: Sequence[Reason],
    top_negative: Sequence[Reason],
    predicted_days: float,
    interval_low: float,
    interval_high: float,
    risk_factors: Sequence[RiskFactor] = (),
    per_side: int = 3,
) -> str:
    parts = [f"Conversion probability is {probability:.0%} ({level})."]
    if top_positive:
        parts.append(f"Raising it: {_join([r.text for r in top_positive[:per_side]])}.")
    if top_negative:
        parts.append(f"Lowering it: {_join([r.text for r in top_negative[:per_side]])}.")
    elif risk_factors:
        parts.append(f"Watch out for: {_join([r.factor.lower() for r in risk_factors[:per_side]])}.")
    parts.append(
        f"Expected to close in about {predicted_days:.0f} days "
        f"(between {interval_low:.0f} and {interval_high:.0f})."
    )
    return " ".join(parts)
