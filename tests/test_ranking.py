"""Priority score and tiers (SPEC section 6)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from leadml.predict.ranking import (
    priority_ranks,
    priority_score,
    priority_score_expr,
    priority_scores,
    priority_tier,
    priority_tier_expr,
    priority_tiers,
)


def test_formula_end_points():
    assert priority_score(1.0, 100.0, 7.0) == pytest.approx(100.0)
    assert priority_score(0.0, None, None) == pytest.approx(0.0)
    assert priority_score(0.0, 0.0, 180.0) == pytest.approx(0.0)
    assert priority_score(0.5, 50.0, 93.5) == pytest.approx(100 * (0.7 * 0.5 + 0.2 * 0.5 + 0.1 * 0.5))
    # Out-of-range inputs are clipped, never leave 0-100.
    assert priority_score(1.5, 300.0, 1.0) == pytest.approx(100.0)
    assert priority_score(-1.0, -5.0, 999.0) == pytest.approx(0.0)


def test_monotone_in_probability_and_urgency():
    rng = np.random.default_rng(3)
    for _ in range(200):
        p, r, d = rng.uniform(0, 1), rng.uniform(0, 100), rng.uniform(7, 180)
        base = priority_score(p, r, d)
        assert 0 <= base <= 100
        assert priority_score(min(p + 0.1, 1), r, d) >= base
        assert priority_score(p, min(r + 10, 100), d) >= base
        assert priority_score(p, r, d + 10) <= base
    # Probability dominates: a likely lead beats a merely recent one.
    assert priority_score(0.9, 0.0, 90.0) > priority_score(0.3, 100.0, 7.0)


def test_tiers_are_fixed_configurable_bands():
    assert [priority_tier(s) for s in (100, 75, 74.99, 50, 49.9, 25, 24.9, 0)] == [
        "top", "top", "high", "high", "medium", "medium", "low", "low"]
    assert priority_tier(60, bands=(90, 60, 30)) == "high"
    assert priority_tier(60, bands=(55, 40, 20)) == "top"
    with pytest.raises(ValueError):
        priority_tier(50, bands=(25, 50, 75))
    # Not quartiles: a pool of weak leads is all "low", whatever its spread.
    weak = priority_scores(np.linspace(0.0, 0.2, 50), np.zeros(50), np.full(50, 120.0))
    assert set(priority_tiers(weak)) == {"low"}


def test_vectorized_versions_match_the_scalar_one():
    rng = np.random.default_rng(5)
    n = 500
    p = rng.uniform(0, 1, n)
    recency = np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 100, n))
    days = np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 250, n))
    as_none = lambda a: [None if np.isnan(x) else float(x) for x in a]  # noqa: E731
    expected = np.array([priority_score(a, b, c) for a, b, c in zip(p, as_none(recency), as_none(days))])
    np.testing.assert_allclose(priority_scores(p, recency, days), expected, atol=1e-9)
    np.testing.assert_allclose(priority_scores(list(p), as_none(recency), as_none(days)), expected, atol=1e-9)
    frame = pl.DataFrame({"probability": p, "recencyScore": as_none(recency), "predicted_days": as_none(days)})
    np.testing.assert_allclose(
        priority_scores(frame["probability"], frame["recencyScore"], frame["predicted_days"]), expected, atol=1e-9)
    out = frame.with_columns(priority_score=priority_score_expr()).with_columns(
        priority_tier=priority_tier_expr("priority_score", bands=(70, 45, 20)))
    np.testing.assert_allclose(out["priority_score"].to_numpy(), expected, atol=1e-9)
    scalar_tiers = [priority_tier(s, bands=(70, 45, 20)) for s in expected]
    assert out["priority_tier"].to_list() == scalar_tiers
    assert list(priority_tiers(expected, bands=(70, 45, 20))) == scalar_tiers


def test_ranks_put_the_best_first():
    scores = np.array([10.0, 80.0, 80.0, 55.0])
    assert priority_ranks(scores).tolist() == [4, 1, 2, 3]
    assert priority_ranks(pl.Series([1.0, 2.0])).tolist() == [2, 1]
