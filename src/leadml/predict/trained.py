"""The `model` source: a trained bundle (calibrated conversion model + optional survival model)
turned into the same PredictionResult the rules give, with exact per-lead reasons.

Pure: the bundle arrives already loaded; nothing here reads the database or settings.

- probability: the calibrated conversion model.
- confidence: measured, not asserted (predict/confidence.py, where CONFIDENCE_MEANING says it in
  one sentence). On the hold-out, leads are binned by predicted probability (10 equal-width bins); a
  bin's confidence is the share of its hold-out leads whose outcome agreed with the call a
  probability in that bin makes (converted when >= 0.5), shrunk towards the agreement the calibrated
  probabilities imply when the bin holds few leads (n / (n + 20)). A lead gets its bin's figure.
- days to close: the survival model's median and 10th-90th percentile interval when one was trained,
  else the rules' estimate.
- score: 100 x probability (so score and level agree); the breakdown spreads it over the four
  categories in proportion to weight x sigmoid(sum of that category's contributions).
- reasons: the model's exact log-odds contributions (TreeSHAP) per feature, custom attributes included.

Speed (one lead per API call): `TrainedBundle.compiled()` builds, once per loaded model version, the
row encoders and the flat tree layouts; a prediction then encodes the lead and its what-if variants
as one small NumPy matrix per model and scores them together (probabilities, reasons, and the
time-to-close quantiles of all of them in one call). The numbers are the ones `bundle.frame` +
`predict_proba` / `contributions` / `predict_interval` give (tests compare them).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leadml.predict import whatif
from leadml.predict.confidence import confidence_bins, confidence_for  # noqa: F401 (re-exported)
from leadml.predict.narrative import explanation_text
from leadml.predict.recommend import recommendations
from leadml.predict.result import PredictionResult, Reason, Thresholds, score_level
from leadml.predict.risks import risk_factors
from leadml.predict.rules import days_interval, days_to_close, rule_confidence

CATEGORY_WEIGHTS = {"demographic": 25.0, "behavioral": 35.0, "temporal": 20.0, "engagement": 20.0}
CUSTOM_PREFIX = "custom."
TOP_REASONS = 5
WHAT_IFS = (("meeting", "Book a meeting"), ("call", "Get the lead on a call"), ("form_submit", "Get a form filled in"),
            ("email_click", "Send content the lead clicks"))


@dataclass
class TrainedBundle:
    conversion: Any  # ConversionModel
    columns: list[str]
    categories: dict[str, str]  # column -> demographic | behavioral | temporal | engagement | custom
    confidence_bins: list[dict[str, float]] = field(default_factory=list)
    survival: Any | None = None  # TimeToCloseModel
    attribute_kinds: dict[str, str] = field(default_factory=dict)
    custom_attributes: list[str] | None = None

    def frame(self, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        frame = pd.DataFrame([{c: row.get(c) for c in self.columns} for row in rows], columns=self.columns)
        return frame

    def compiled(self) -> CompiledBundle:
        """What one lead's prediction needs, built on first use (the model loader calls it on load)."""
        compiled = self.__dict__.get("_compiled")
        if compiled is None:
            compiled = self._compiled = CompiledBundle(
                conversion_rows=self.conversion.row_encoder(self.columns),
                survival_rows=self.survival.row_encoder(self.columns) if self.survival is not None else None,
            )
        return compiled

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_compiled", None)  # rebuilt on load; artifacts stay plain
        return state


@dataclass
class CompiledBundle:
    conversion_rows: Any  # tabular.RowEncoder
    survival_rows: Any | None


@functools.lru_cache(maxsize=4096)
def _words(name: str) -> str:
    if name.startswith(CUSTOM_PREFIX):
        return name[len(CUSTOM_PREFIX):]
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


def reason_text(name: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        shown = "missing"
    elif isinstance(value, bool):
        shown = "yes" if value else "no"
    elif isinstance(value, float):
        shown = f"{value:.2f}".rstrip("0").rstrip(".")
    else:
        shown = str(value)
    return f"{_words(name)}: {shown}"


def reasons_for(bundle: TrainedBundle, row: Mapping[str, Any], contributions: np.ndarray) -> list[Reason]:
    return [
        Reason(feature=name, category=bundle.categories.get(name, "custom"), value=row.get(name),
               contribution=float(c), text=reason_text(name, row.get(name)))
        for name, c in zip(bundle.columns, contributions, strict=True)
        if abs(c) > 1e-9
    ]


def breakdown(score: float, reasons: Sequence[Reason]) -> dict[str, float]:
    sums = {c: 0.0 for c in CATEGORY_WEIGHTS}
    for r in reasons:
        if r.category in sums:
            sums[r.category] += r.contribution
    strength = {c: CATEGORY_WEIGHTS[c] / (1 + math.exp(-sums[c])) for c in CATEGORY_WEIGHTS}
    total = sum(strength.values()) or 1.0
    return {c: score * strength[c] / total for c in CATEGORY_WEIGHTS}


def _days(bundle: TrainedBundle, rows: Sequence[Mapping[str, Any]], probabilities: np.ndarray,
          confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """(median, low, high) days for every row (the lead first, then its what-ifs) and the time factors."""
    if bundle.survival is not None:
        median, low, high = bundle.survival.interval_of_records(bundle.compiled().survival_rows, rows)
        return median, low, high, [{"factor": "Survival model", "impact": 0.0,
                                    "description": "Median and 10th-90th percentile of the time-to-close model "
                                                   "trained on this tenant's converted and still-open leads."}]
    days, factors = days_to_close(rows[0], float(probabilities[0]))
    low, high = days_interval(days, confidence)
    # What-ifs without a survival model: the rules' days at the re-scored probability.
    others = [days_to_close(row, float(p))[0] for row, p in zip(rows[1:], probabilities[1:], strict=True)]
    return np.array([days, *others]), np.array([low]), np.array([high]), factors


def predict_trained(bundle: TrainedBundle, features: Mapping[str, Any], *, thresholds: Thresholds,
                    model_version: int | None = None) -> PredictionResult:
    """One lead, from its flat feature mapping (custom attributes as `custom.<name>`)."""
    compiled = bundle.compiled()
    rows = [features, *(whatif.with_activity(features, kind) for kind, _label in WHAT_IFS)]
    full, pooled = bundle.conversion.encoded(compiled.conversion_rows, rows)
    probabilities = bundle.conversion.probability_of_encoded(full, pooled)
    probability = float(probabilities[0])
    _base, contrib = bundle.conversion.contributions_of_encoded(full[:1], pooled[:1])
    reasons = reasons_for(bundle, features, contrib[0])
    confidence = confidence_for(bundle.confidence_bins, probability) if bundle.confidence_bins else rule_confidence(features)
    median, low, high, factors = _days(bundle, rows, probabilities, confidence)
    days, low_d, high_d = float(median[0]), float(low[0]), float(high[0])
    positive = sorted((r for r in reasons if r.contribution > 0), key=lambda r: -r.contribution)[:TOP_REASONS]
    negative = sorted((r for r in reasons if r.contribution < 0), key=lambda r: r.contribution)[:TOP_REASONS]
    level = score_level(probability, thresholds)
    risks = risk_factors(features, probability, reasons)
    score = 100.0 * probability
    return PredictionResult(
        source="model", probability=probability, confidence=confidence, score_level=level,
        predicted_days=days, interval_low=low_d, interval_high=high_d, score=score,
        score_breakdown=breakdown(score, reasons), risk_factors=risks,
        recommendations=recommendations(features, probability, reasons),
        explanation=explanation_text(probability=probability, level=level, top_positive=positive,
                                     top_negative=negative, predicted_days=days, interval_low=low_d,
                                     interval_high=high_d, risk_factors=risks),
        top_positive=positive, top_negative=negative, time_factors=factors,
        acceleration_opportunities=acceleration(probability, days, probabilities[1:], median[1:]),
        model_version=model_version,
    )


def acceleration(probability: float, days: float, probabilities_after: np.ndarray,
                 days_after: np.ndarray) -> list[dict[str, Any]]:
    """What-if changes re-scored by the model: one more inbound action of each high-value kind
    (`probabilities_after` and `days_after` in WHAT_IFS order)."""
    out = []
    for (_kind, label), p_after, d_after in zip(WHAT_IFS, probabilities_after, days_after, strict=True):
        saved = days - float(d_after)
        if p_after > probability + 1e-6 or saved > 0.5:
            out.append({"action": label, "expectedDaysSaved": round(max(saved, 0.0), 1),
                        "probabilityAfter": round(float(p_after), 4),
                        "description": f"The model gives {p_after:.0%} (now {probability:.0%}) and about "
                                       f"{float(d_after):.0f} days to close after this."})
    out.sort(key=lambda o: (-o["probabilityAfter"], -o["expectedDaysSaved"]))
    return out
