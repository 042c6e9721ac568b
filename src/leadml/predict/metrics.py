"""Outcome-based quality metrics for conversion and time-to-close predictions.

Pure functions of arrays. Conventions:
- `y_true` holds 0/1 (or booleans), `p` the predicted probability of conversion.
- ECE (expected calibration error) uses 10 equal-width probability bins, [0, 0.1), ..., [0.9, 1.0]:
  the share-of-leads-weighted mean of |observed conversion rate - mean predicted probability| per bin.
  This is the definition behind the reference numbers in BENCHMARKS.md.
- Lift in the top decile: conversion rate among the 10 % of leads with the highest probability
  (at least one lead), divided by the overall conversion rate.
- Time to close: `c_index` is Harrell's concordance between predicted and actual days (a lead predicted
  to close sooner should close sooner); `interval_coverage` is the share of actual days inside
  [low, high], both ends included.
"""

from __future__ import annotations

import numpy as np
from lifelines.utils import concordance_index
from sklearn import metrics as sk

EPSILON = 1e-15


def _binary(y_true) -> np.ndarray:
    y = np.asarray(y_true, dtype=np.float64).ravel()
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must hold 0/1 outcomes.")
    return y


def _probabilities(p) -> np.ndarray:
    return np.asarray(p, dtype=np.float64).ravel()


def roc_auc(y_true, p) -> float:
    return float(sk.roc_auc_score(_binary(y_true), _probabilities(p)))


def pr_auc(y_true, p) -> float:
    """Area under the precision-recall curve (average precision)."""
    return float(sk.average_precision_score(_binary(y_true), _probabilities(p)))


def brier(y_true, p) -> float:
    y, q = _binary(y_true), _probabilities(p)
    return float(np.mean((q - y) ** 2))


def log_loss(y_true, p) -> float:
    y, q = _binary(y_true), np.clip(_probabilities(p), EPSILON, 1 - EPSILON)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def _bin_index(p: np.ndarray, bins: int) -> np.ndarray:
    return np.minimum((p * bins).astype(int), bins - 1)


def calibration_curve(y_true, p, bins: int = 10) -> list[dict[str, float]]:
    """Per non-empty equal-width bin: its bounds, mean predicted, observed rate and lead count."""
    y, q = _binary(y_true), _probabilities(p)
    index = _bin_index(q, bins)
    curve = []
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        if count:
            curve.append(
                {
                    "low": b / bins,
                    "high": (b + 1) / bins,
                    "predicted": float(q[members].mean()),
                    "observed": float(y[members].mean()),
                    "count": count,
                }
            )
    return curve


def ece(y_true, p, bins: int = 10) -> float:
    """Expected calibration error over 10 equal-width bins (see the module docstring)."""
    curve = calibration_curve(y_true, p, bins)
    total = sum(point["count"] for point in curve)
    if total == 0:
        return 0.0
    return float(sum(point["count"] * abs(point["observed"] - point["predicted"]) for point in curve) / total)


def lift_top_decile(y_true, p) -> float:
    y, q = _binary(y_true), _probabilities(p)
    base_rate = y.mean()
    if base_rate == 0:
        return 0.0
    top = max(1, int(np.ceil(len(q) * 0.1)))
    order = np.argsort(-q, kind="stable")[:top]
    return float(y[order].mean() / base_rate)


def c_index(actual_days, predicted_days, event_observed=None) -> float:
    """Harrell's C: 1.0 when predicted days order the leads exactly as their actual days."""
    actual = np.asarray(actual_days, dtype=np.float64).ravel()
    predicted = np.asarray(predicted_days, dtype=np.float64).ravel()
    return float(concordance_index(actual, predicted, event_observed))


def mae_days(actual_days, predicted_days) -> float:
    actual = np.asarray(actual_days, dtype=np.float64).ravel()
    predicted = np.asarray(predicted_days, dtype=np.float64).ravel()
    return float(np.mean(np.abs(actual - predicted)))


def interval_coverage(actual_days, low, high) -> float:
    actual = np.asarray(actual_days, dtype=np.float64).ravel()
    inside = (actual >= np.asarray(low, dtype=np.float64).ravel()) & (
        actual <= np.asarray(high, dtype=np.float64).ravel()
    )
    return float(inside.mean()) if len(actual) else float("nan")


def conversion_report(y_true, p) -> dict[str, float]:
    """The conversion metrics `leadml evaluate` prints, in one dict."""
    return {
        "auc": roc_auc(y_true, p),
        "pr_auc": pr_auc(y_true, p),
        "brier": brier(y_true, p),
        "ece": ece(y_true, p),
        "log_loss": log_loss(y_true, p),
        "lift_top_decile": lift_top_decile(y_true, p),
    }
