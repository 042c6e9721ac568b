"""What a model prediction's `confidence` means, and how it is measured on the hold-out.

Pure: arrays in, bins out; nothing here reads the database or settings.

A model's call on a lead is "converts" when its probability is at least 0.5, else "does not convert".
Confidence is the share of held-out leads with a similar probability (the same of 10 equal-width
probability bins) whose outcome agreed with that call. A bin holding few hold-out leads is shrunk
towards what the calibrated probabilities of its leads imply (a lead at p = 0.9 agrees with the call
"converts" 90 % of the time when the model is calibrated), with weight n / (n + 20); an empty bin
gets that implied figure from its centre. No figure exceeds 0.99. So a confidence of 0.8 claims: of leads like this one,
about 8 in 10 ended the way the model calls it. tests/test_confidence.py checks that claim on leads
the model never saw, bin by bin, and that a constant confidence fails the same check.
"""

from __future__ import annotations

import numpy as np

# The one sentence the page and the API show next to a confidence figure.
CONFIDENCE_MEANING = (
    "Confidence is how often the model's call (converts at a probability of 50 % or more, otherwise not) "
    "proved right for held-out leads with a similar probability when the model was trained; a rule-based or LLM "
    "score's confidence is not measured against outcomes (the rules base it on how much the lead's record shows)."
)

BINS = 10
PRIOR = 20.0
# No call is stated as certain: the calibrated probabilities stop at 0.9999, and a handful of hold-out
# leads that all agreed is no proof of 100 %.
MAX_CONFIDENCE = 0.99


def bin_index(p: np.ndarray, bins: int = BINS) -> np.ndarray:
    return np.minimum((np.asarray(p, dtype=np.float64) * bins).astype(int), bins - 1)


def call_of_bin(b: int, bins: int = BINS) -> int:
    """The call a probability in bin b makes: 1 (converts) when the bin lies at or above 0.5."""
    return 1 if (b + 0.5) / bins >= 0.5 else 0


def confidence_bins(y_true: np.ndarray, p: np.ndarray, bins: int = BINS, prior: float = PRIOR) -> list[dict[str, float]]:
    """Per probability bin: bounds, hold-out leads n, observed agreement with the call, the agreement
    the calibrated probabilities imply, and the stated confidence (observed shrunk towards implied)."""
    y_true, p = np.asarray(y_true, dtype=np.float64), np.asarray(p, dtype=np.float64)
    index = bin_index(p, bins)
    out = []
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        call = call_of_bin(b, bins)
        centre = (b + 0.5) / bins
        implied = float((p[mask] if call else 1 - p[mask]).mean()) if n else max(centre, 1 - centre)
        observed = float((y_true[mask] == call).mean()) if n else implied
        stated = min(implied + (observed - implied) * n / (n + prior), MAX_CONFIDENCE)
        out.append({"low": b / bins, "high": (b + 1) / bins, "n": n, "observed": round(observed, 4),
                    "implied": round(implied, 4), "confidence": round(stated, 4)})
    return out


def confidence_for(bins: list[dict[str, float]], probability: float) -> float:
    for row in bins:
        if row["low"] <= probability < row["high"] or (row["high"] == 1.0 and probability >= 1.0):
            return row["confidence"]
    return 0.5
