"""The conversion model's calibration map: monotone, bounded away from 0 and 1, and smooth enough
that leads with different evidence rarely share a probability (the isotonic step function gave a
ranked page of 100 leads only 15 distinct values)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression

from leadml.predict import metrics
from leadml.predict.model import PROBABILITY_FLOOR, ConversionModel, MonotoneCalibrator, sigmoid


def _held_out(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Log-odds and outcomes drawn from a known, slightly miscalibrated truth."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-1.0, 1.5, n)
    y = (rng.random(n) < sigmoid(0.8 * z - 0.3)).astype(float)
    return z, y


def test_isotonic_map_is_strictly_increasing_bounded_and_calibrated():
    z, y = _held_out(4000)
    calibrator = MonotoneCalibrator("isotonic").fit(z, y)
    grid = np.linspace(z.min() - 5, z.max() + 5, 2000)
    p = calibrator(grid)
    assert np.all(np.diff(p[(p > PROBABILITY_FLOOR) & (p < 1 - PROBABILITY_FLOOR)]) > 0)
    assert p.min() >= PROBABILITY_FLOOR and p.max() <= 1 - PROBABILITY_FLOOR
    # As calibrated as the step function on fresh leads from the same truth, and close to the truth.
    fresh_z, fresh_y = _held_out(20000, seed=1)
    steps = IsotonicRegression(out_of_bounds="clip").fit(z, y)
    assert metrics.ece(fresh_y, calibrator(fresh_z)) <= metrics.ece(fresh_y, steps.predict(fresh_z)) + 0.005
    assert np.abs(calibrator(fresh_z) - sigmoid(0.8 * fresh_z - 0.3)).mean() < 0.03


def test_leads_in_one_isotonic_block_get_different_probabilities():
    z, y = _held_out(3000)
    steps = IsotonicRegression(out_of_bounds="clip").fit(z, y)
    calibrator = MonotoneCalibrator("isotonic").fit(z, y)
    page = np.sort(np.random.default_rng(2).normal(-1.0, 1.5, 100))
    shown_steps = {f"{100 * p:.1f}" for p in steps.predict(page)}
    shown_smooth = {f"{100 * p:.1f}" for p in calibrator(page)}
    # 100 random leads: a few fall within a tenth of a percent of each other by chance.
    assert len(shown_smooth) >= 80 and len(shown_steps) <= 40, (len(shown_smooth), len(shown_steps))


@pytest.mark.parametrize("outcomes", ["none_convert_low", "all_convert_high"])
def test_a_block_without_conversions_or_without_losses_is_not_0_or_100_percent(outcomes):
    z = np.linspace(-6, 6, 600)
    y = (z > 0).astype(float)  # perfectly separated: isotonic alone says 0 % and 100 %
    calibrator = MonotoneCalibrator("isotonic").fit(z, y)
    p = calibrator(np.array([-50.0, -6.0, 6.0, 50.0]))
    assert p.min() >= PROBABILITY_FLOOR and p.max() <= 1 - PROBABILITY_FLOOR
    shown = [f"{100 * x:.1f}" for x in p]
    assert "0.0" not in shown and "100.0" not in shown
    low, high = (p[1], p[2]) if outcomes == "none_convert_low" else (p[0], p[3])
    assert low < 0.01 and high > 0.99


def test_a_constant_model_gets_the_base_rate():
    z = np.zeros(500)
    y = (np.arange(500) % 4 == 0).astype(float)
    p = MonotoneCalibrator("isotonic").fit(z, y)(np.array([-1.0, 0.0, 1.0]))
    assert p[1] == pytest.approx(0.25, abs=0.01) and p[0] < p[1] < p[2]


def test_a_model_pickled_with_the_step_calibrator_still_predicts():
    z, y = _held_out(1000)
    old = MonotoneCalibrator("isotonic")
    old.isotonic_ = IsotonicRegression(y_min=1e-4, y_max=1 - 1e-4, out_of_bounds="clip").fit(z, y)
    restored = pickle.loads(pickle.dumps(old))
    assert np.allclose(restored(z[:50]), np.clip(old.isotonic_.predict(z[:50]), PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR))


def test_conversion_model_probabilities_rarely_tie_and_never_read_0_or_100():
    rng = np.random.default_rng(5)
    n = 3000
    X = pd.DataFrame({"visits": rng.poisson(3, n), "meetings": rng.poisson(0.4, n),
                      "size": rng.choice(["small", "mid", "large"], n), "age_days": rng.uniform(0, 90, n)})
    logit = -2 + 0.35 * X["visits"] + 1.2 * X["meetings"] + (X["size"] == "large") * 0.8 - 0.01 * X["age_days"]
    y = (rng.random(n) < sigmoid(logit.to_numpy())).astype(int)
    model = ConversionModel(n_estimators=80, cv=3, random_state=0).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    distinct_inputs = X.drop_duplicates().index[:100]
    page = p[distinct_inputs]
    assert len({f"{100 * x:.1f}" for x in page}) >= 60
    assert p.min() >= PROBABILITY_FLOOR * (1 - 1e-6) and p.max() <= 1 - PROBABILITY_FLOOR
