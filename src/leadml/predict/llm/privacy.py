"""What leaves the machine when the LLM is on: the facts a prediction already computed, never identity.

Always sent (the *facts*, computed by leadml): the prediction's numbers and level, the derived profile
(booleans and categories such as `titleSeniority`, never the raw title), the activity counts, rates and
recency, the reasons, risks, recommendations and what-ifs as leadml wrote them.

Never sent: email address, name, phone number, the email domain, tags, activity payloads, and any
custom attribute or reason about one unless its attribute is listed in the policy.

Sent only when the operator opts in (`lead_fields`, `attributes`): the lead's title, company and pipeline
stage, and listed custom attributes. These are untrusted text: they go in a separate `leadText` section,
passed as JSON string data, with anything that looks like an email address, phone number or URL
replaced by `[redacted]`, cut to `max_text_chars`. They are never sent in predictor mode, so text a
lead controls cannot reach the call that produces numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leadml.features.catalogue import FEATURES
from leadml.predict.result import PredictionResult, Reason, RiskFactor
from leadml.predict.risks import BUILT_IN_RISKS

CUSTOM_PREFIX = "custom."
OPT_IN_LEAD_FIELDS = ("title", "company", "pipelineStage")
REDACTED = "[redacted]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# Seven or more digits, optionally separated by spaces, dots, dashes, slashes or brackets (+ prefix).
_PHONE = re.compile(r"\+?\(?\d(?:[\s().\-/]*\d){6,}")
_BUILT_IN = {spec.name: spec for spec in FEATURES}
_PROFILE = ("hasCompany", "hasTitle", "hasPhone", "emailDomainType", "titleSeniority", "companySizeEstimate")


@dataclass(frozen=True)
class PrivacyPolicy:
    """Which optional lead data may be sent (everything else listed above never is)."""

    lead_fields: frozenset[str] = field(default_factory=frozenset)  # subset of OPT_IN_LEAD_FIELDS
    attributes: frozenset[str] = field(default_factory=frozenset)  # custom attribute names
    max_text_chars: int = 120

    def __post_init__(self) -> None:
        unknown = set(self.lead_fields) - set(OPT_IN_LEAD_FIELDS)
        if unknown:
            raise ValueError(f"lead fields that may not be sent: {sorted(unknown)}; allowed: {OPT_IN_LEAD_FIELDS}")


def redact(text: str, *, max_chars: int = 120) -> str:
    """Untrusted text with email addresses, URLs and phone numbers replaced, collapsed and cut."""
    cleaned = _EMAIL.sub(REDACTED, text)
    cleaned = _URL.sub(REDACTED, cleaned)
    cleaned = _PHONE.sub(REDACTED, cleaned)
    cleaned = " ".join(cleaned.split())
    return cleaned[:max_chars]


def plain(value: Any) -> Any:
    """JSON-safe, rounded, with NaN as null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 3)
    try:  # numpy scalars
        return plain(value.item())
    except AttributeError:
        return str(value)


def _custom_name(feature: str) -> str | None:
    return feature[len(CUSTOM_PREFIX):] if feature.startswith(CUSTOM_PREFIX) else None


def _reason(reason: Reason, policy: PrivacyPolicy) -> dict[str, Any] | None:
    custom = _custom_name(reason.feature)
    effect = "raises" if reason.contribution > 0 else "lowers"
    strength = round(abs(reason.contribution), 3)
    if custom is None:
        if reason.feature not in _BUILT_IN:
            return None  # not a feature whose text we wrote: leave it out
        return {"feature": reason.feature, "category": reason.category, "effect": effect, "strength": strength,
                "text": reason.text}
    # Custom attributes: the name only when allowed, never the value or text (values go to leadText).
    return {"feature": custom if custom in policy.attributes else "a custom field", "category": "custom",
            "effect": effect, "strength": strength}


def _risk(risk: RiskFactor, policy: PrivacyPolicy) -> dict[str, Any]:
    if risk.factor in BUILT_IN_RISKS or risk.factor in _BUILT_IN:  # leadml wrote its text
        return {"factor": risk.factor, "impact": risk.impact, "trend": risk.trend,
                "currentValue": plain(risk.current_value), "description": risk.description}
    name = _custom_name(risk.factor) or risk.factor
    return {"factor": name if name in policy.attributes else "a custom field", "impact": risk.impact,
            "trend": risk.trend}


def profile_and_activity(features: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The derived features, split into profile (demographic) and activity (the rest)."""
    profile = {name: plain(features.get(name)) for name in _PROFILE}
    activity = {spec.name: plain(features.get(spec.name)) for spec in FEATURES if spec.name not in _PROFILE}
    return profile, activity


def prediction_facts(result: PredictionResult, thresholds: Mapping[str, float]) -> dict[str, Any]:
    return {
        "source": result.source,
        "conversionProbability": round(result.probability, 3),
        "conversionPercent": round(result.probability * 100, 1),
        "scoreLevel": result.score_level,
        "levelThresholds": dict(thresholds),
        "confidence": round(result.confidence, 2),
        "daysToClose": round(result.predicted_days, 1),
        "daysToCloseRange": [round(result.interval_low, 1), round(result.interval_high, 1)],
        "score": round(result.score, 1),
        "scoreBreakdown": {k: round(v, 1) for k, v in result.score_breakdown.items()},
    }


def facts(
    result: PredictionResult,
    features: Mapping[str, Any],
    *,
    thresholds: Mapping[str, float],
    policy: PrivacyPolicy,
    pipeline_value: float | None = None,
) -> dict[str, Any]:
    """The trusted facts of one prediction (computed by leadml, nothing a lead typed)."""
    profile, activity = profile_and_activity(features)
    if pipeline_value is not None:
        profile["pipelineValue"] = plain(float(pipeline_value))
    return {
        "prediction": prediction_facts(result, thresholds),
        "profile": profile,
        "activity": activity,
        "reasonsRaising": [r for r in (_reason(x, policy) for x in result.top_positive) if r],
        "reasonsLowering": [r for r in (_reason(x, policy) for x in result.top_negative) if r],
        "risks": [_risk(r, policy) for r in result.risk_factors],
        "recommendations": [
            {"index": i, "priority": r.priority, "action": r.action, "rationale": r.rationale,
             "expectedImpact": r.expected_impact, "timeframe": r.timeframe}
            for i, r in enumerate(result.recommendations)
        ],
        "whatIfs": [{k: plain(v) for k, v in item.items()} for item in result.acceleration_opportunities],
    }


def lead_text(
    *, title: str | None, company: str | None, pipeline_stage: str | None, attributes: Mapping[str, Any],
    policy: PrivacyPolicy,
) -> dict[str, Any]:
    """The opted-in, redacted, untrusted text of a lead (empty by default)."""
    given = {"title": title, "company": company, "pipelineStage": pipeline_stage}
    out: dict[str, Any] = {}
    for name in OPT_IN_LEAD_FIELDS:
        value = given[name]
        if name in policy.lead_fields and value is not None and str(value).strip():
            out[name] = redact(str(value), max_chars=policy.max_text_chars)
    chosen = {}
    for name in sorted(policy.attributes):
        if name in attributes and attributes[name] is not None:
            value = attributes[name]
            chosen[name] = value if isinstance(value, bool | int | float) else redact(str(value),
                                                                                      max_chars=policy.max_text_chars)
    if chosen:
        out["attributes"] = chosen
    return out


def sent_field_names(policy: PrivacyPolicy) -> dict[str, Iterable[str]]:
    """For documentation and the preview: what the policy lets out, by section."""
    return {
        "profile": list(_PROFILE) + ["pipelineValue"],
        "activity": [spec.name for spec in FEATURES if spec.name not in _PROFILE],
        "leadText": sorted(policy.lead_fields) + [f"attributes.{a}" for a in sorted(policy.attributes)],
    }
