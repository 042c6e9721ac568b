"""Time to close: censoring-aware hazard model, its contract, and its quality on the Olist funnel."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from conftest import shared_data
from leadml.predict import metrics
from leadml.predict.survival import TimeToCloseModel, survival_target



def synthetic_pipeline(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Referral leads close in ~10 days, others in ~40; most never close; data cut at day 365."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "source": rng.choice(["referral", "web", "ads"], n),
        "employees": rng.lognormal(3, 1, n),
    })
    fast = (frame["source"] == "referral").to_numpy()
    will_close = rng.random(n) < np.where(fast, 0.5, 0.25)
    true_days = rng.exponential(np.where(fast, 10.0, 40.0))
    started = rng.uniform(0, 300, n)
    observed_for = 365.0 - started
    closed = will_close & (true_days <= observed_for)
    days = np.where(closed, true_days, observed_for)
    return frame, closed, days, started


@pytest.fixture(scope="module")
def synthetic_fit():
    frame, closed, days, started = synthetic_pipeline()
    train = started < 240
    model = TimeToCloseModel(random_state=0).fit(frame[train], survival_target(closed[train], days[train]))
    return model, frame[~train], closed[~train], days[~train]


def test_learns_who_closes_faster(synthetic_fit):
    model, frame, closed, days = synthetic_fit
    median, low, high = model.predict_interval(frame)
    fast = (frame["source"] == "referral").to_numpy()
    assert np.median(median[fast]) < 0.6 * np.median(median[~fast])
    assert np.all((low <= median) & (median <= high))
    assert metrics.c_index(days, model.expected_days_open(frame), closed) > 0.6
    np.testing.assert_allclose(model.predict(frame), median)


def test_interval_covers_about_eighty_percent_of_held_out_closes(synthetic_fit):
    model, frame, closed, days = synthetic_fit
    _median, low, high = model.predict_interval(frame[closed])
    assert 0.7 <= metrics.interval_coverage(days[closed], low, high) <= 0.9


def test_two_arrays_or_structured_target_give_the_same_model():
    frame, closed, days, _ = synthetic_pipeline(n=800, seed=1)
    a = TimeToCloseModel(random_state=0).fit(frame, survival_target(closed, days))
    b = TimeToCloseModel(random_state=0).fit(frame, days, closed)
    np.testing.assert_allclose(a.predict(frame), b.predict(frame))


def test_estimator_contract():
    frame, closed, days, _ = synthetic_pipeline(n=600, seed=2)
    model = TimeToCloseModel(n_estimators=50, random_state=3)
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        model.predict(frame)
    assert model.fit(frame, survival_target(closed, days)) is model
    assert model.n_features_in_ == 2 and list(model.feature_names_in_) == ["source", "employees"]
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).predict(frame), model.predict(frame))
    with pytest.raises(ValueError, match="event"):
        TimeToCloseModel().fit(frame, days)  # durations without events


@pytest.mark.slow
def test_olist_time_to_close_on_a_time_split():
    olist = shared_data("olist-marketing-funnel")
    leads = pd.read_csv(olist / "olist_marketing_qualified_leads_dataset.csv")
    deals = pd.read_csv(olist / "olist_closed_deals_dataset.csv")[["mql_id", "won_date"]]
    leads = leads.merge(deals, on="mql_id", how="left")
    start, won = pd.to_datetime(leads["first_contact_date"]), pd.to_datetime(leads["won_date"])
    closed = won.notna().to_numpy()
    end = won.where(won.notna(), won.max())  # open leads are censored at the export date
    days = ((end - start).dt.total_seconds() / 86400).clip(lower=0).to_numpy()
    X = pd.DataFrame({"origin": leads["origin"], "landing_page_id": leads["landing_page_id"],
                      "weekday": start.dt.day_name()})
    order = np.argsort(start.to_numpy(), kind="stable")
    train, test = order[:6400], order[6400:]
    model = TimeToCloseModel(random_state=0).fit(X.iloc[train], survival_target(closed[train], days[train]))
    median, low, high = model.predict_interval(X.iloc[test])
    won_test = closed[test]
    c_index = metrics.c_index(days[test], model.expected_days_open(X.iloc[test]), won_test)
    mae = metrics.mae_days(days[test][won_test], median[won_test])
    # The model must beat a constant: the training closures' median scores MAE 30.0 days here
    # (BENCHMARKS.md; computed below rather than trusted). Origin, landing page and weekday explain
    # little of when a deal closes, so a C-index above 0.85 or an MAE under 15 days means a leak.
    constant = np.median(days[train][closed[train]])
    constant_mae = metrics.mae_days(days[test][won_test], np.full(won_test.sum(), constant))
    assert constant_mae == pytest.approx(30.0, abs=0.05)
    assert 15.0 < mae < constant_mae, (mae, constant_mae)
    assert 0.65 < c_index < 0.85
    assert 0.75 <= metrics.interval_coverage(days[test][won_test], low[won_test], high[won_test]) <= 0.85


def test_interval_scoring_matches_lightgbm_on_the_expanded_rows(synthetic_fit):
    model, frame, _closed, _days = synthetic_fit
    matrix = model.encoder_.pool_rare(model.encoder_.transform(frame))
    periods = len(model.edges_) - 1
    expanded = np.column_stack([np.repeat(matrix, periods, axis=0), np.tile(np.arange(periods), len(matrix))])
    reference = model.booster_.predict(expanded, raw_score=True).reshape(len(matrix), periods)
    grid = model.tables_.raw_grid(np.column_stack([matrix, np.zeros(len(matrix))]), matrix.shape[1],
                                  np.arange(periods, dtype=float))
    np.testing.assert_allclose(grid, reference, atol=1e-9)
