"""Metrics on tiny inputs with known answers, the evaluate protocol's rules, and `leadml evaluate --json`."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadml import evaluate
from leadml.cli import app
from leadml.predict import metrics
from leadml.predict.baselines import BASELINES


def test_ranking_metrics():
    y, p = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    assert metrics.roc_auc(y, p) == pytest.approx(0.75)
    # Ranked: 0.8 (hit), 0.4 (miss), 0.35 (hit): precision 1 at recall 0.5, 2/3 at recall 1.
    assert metrics.pr_auc(y, p) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_probability_metrics():
    assert metrics.brier([0, 1], [0.2, 0.6]) == pytest.approx(0.1)
    assert metrics.log_loss([1, 0], [0.5, 0.5]) == pytest.approx(math.log(2))
    # Bins [0, 0.1): |0 - 0.05|; [0.1, 0.2): |1 - 0.15|; [0.9, 1.0] (1.0 included): |0.5 - 0.95| for two leads.
    y, p = [0, 1, 1, 0], [0.05, 0.15, 0.95, 1.0]
    assert metrics.ece(y, p) == pytest.approx((0.05 + 0.85 + 2 * abs(0.5 - 0.975)) / 4)
    curve = metrics.calibration_curve(y, p)
    assert [point["count"] for point in curve] == [1, 1, 2]
    assert curve[-1]["predicted"] == pytest.approx(0.975) and curve[-1]["observed"] == pytest.approx(0.5)
    assert metrics.ece([1, 0], [1.0, 0.0]) == 0.0


def test_lift_top_decile():
    y = np.array([1, 1] + [0] * 16 + [1, 1])  # 4 of 20 converted: base rate 0.2
    p = np.linspace(1, 0, 20)  # the two top-ranked leads both converted
    assert metrics.lift_top_decile(y, p) == pytest.approx(1.0 / 0.2)


def test_time_to_close_metrics():
    assert metrics.c_index([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert metrics.c_index([1, 2, 3], [3, 2, 1]) == pytest.approx(0.0)
    assert metrics.mae_days([1, 5], [2, 2]) == pytest.approx(2.0)
    assert metrics.interval_coverage([1, 5, 10], [0, 6, 10], [2, 7, 12]) == pytest.approx(2 / 3)


def test_metrics_reject_non_binary_outcomes():
    with pytest.raises(ValueError):
        metrics.brier([0, 2], [0.1, 0.2])


def test_identifier_and_date_rules():
    n = 40
    frame = pd.DataFrame({
        "Prospect ID": [f"id-{i}" for i in range(n)],
        "Lead Number": np.arange(1000, 1000 + n),
        "score": np.linspace(0.5, 9.5, n),  # all different, but decimal: kept
        "source": ["a", "b"] * (n // 2),
        "created": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "long_history": pd.date_range("2018-01-01", periods=n, freq="30D").strftime("%Y-%m-%d %H:%M:%S"),
    })
    found = evaluate.identifier_columns(frame.drop(columns=["created", "long_history"]))
    assert found == ["Prospect ID", "Lead Number"]
    assert evaluate.parse_dates(frame["source"]) is None
    dates = {c: evaluate.parse_dates(frame[c]) for c in ("created", "long_history")}
    parts = evaluate.derive_date_parts(frame, dates)
    # 40 days of history: weekday only; 3 years: weekday and month.
    assert "created weekday" in parts and "created month" not in parts
    assert {"long_history weekday", "long_history month"} <= set(parts.columns)
    assert parts["created weekday"].iloc[0] == "Wednesday"  # 2020-01-01


def test_target_rules():
    assert list(evaluate.conversion_labels(pd.Series(["Yes", "No", None]))[:2]) == [1.0, 0.0]
    assert np.isnan(evaluate.conversion_labels(pd.Series(["Yes", "No", None]))[2])
    assert list(evaluate.conversion_labels(pd.Series([1, 0, 1]))) == [1.0, 0.0, 1.0]
    assert list(evaluate.conversion_labels(pd.Series(["won", "lost"]), positive="lost")) == [0.0, 1.0]
    with pytest.raises(ValueError, match="--positive"):
        evaluate.conversion_labels(pd.Series(["open", "closed", "stalled"]))


def synthetic_funnel(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    source = rng.choice(["web", "referral", "ads"], n)
    chance = np.where(source == "referral", 0.5, 0.15)
    won = rng.random(n) < chance
    days = rng.exponential(np.where(source == "referral", 10, 40))
    close = start + pd.to_timedelta(days, unit="D")
    as_of = pd.Timestamp("2024-01-01")
    won &= close <= as_of
    return pd.DataFrame({
        "lead id": [f"L{i:05d}" for i in range(n)],
        "created": start.strftime("%Y-%m-%d"),
        "source": source,
        "pages": rng.poisson(np.where(won, 5, 3)),
        "form": np.where(rng.random(n) < 0.2, "Select", rng.choice(["A", "B"], n)),
        "closed on": np.where(won, close.strftime("%Y-%m-%d"), ""),
        "won": np.where(won, "yes", "no"),
    })


def test_baselines_fit_and_predict_probabilities():
    frame = synthetic_funnel()
    data = evaluate.prepare(frame, target="won", close_column="closed on")
    for name, make in BASELINES.items():
        p = make(0).fit(data.X.iloc[:400], data.y[:400]).predict_proba(data.X.iloc[400:])[:, 1]
        assert p.shape == (200,) and np.all((p >= 0) & (p <= 1)), name
        assert metrics.roc_auc(data.y[400:], p) > 0.6, name


def test_cli_evaluate_json(tmp_path):
    path = tmp_path / "funnel.csv"
    synthetic_funnel().to_csv(path, index=False)
    result = CliRunner().invoke(app, [
        "evaluate", str(path), "--target", "won", "--time-column", "created", "--start-column", "created",
        "--close-column", "closed on", "--na-values", "Select", "--json",
    ])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # exactly one JSON object on stdout
    assert report["rows"] == 600 and report["split"]["kind"] == "time"
    assert set(report["conversion"]) == {"auc", "pr_auc", "brier", "ece", "log_loss", "lift_top_decile"}
    assert set(report["baselines"]) == {"naive_bayes", "logistic_regression", "lightgbm_default"}
    # 0.83 here. Source and page views explain only part of who wins; the outcome columns ("won",
    # "closed on") would give 1.0, so above 0.9 one of them leaked into the features.
    assert 0.65 < report["conversion"]["auc"] < 0.9
    assert set(report["time_to_close"]) >= {"c_index", "mae_days", "interval_coverage"}
    assert 0.6 < report["time_to_close"]["c_index"] < 0.9  # 0.80: referral closes in ~10 days, others ~40
    assert report["dropped_columns"] == {"won": "outcome", "closed on": "outcome", "lead id": "identifier"}
    assert "created weekday" in report["features"]


def test_cli_evaluate_table_and_plot(tmp_path):
    path = tmp_path / "funnel.csv"
    synthetic_funnel(n=300).drop(columns=["closed on"]).to_csv(path, index=False)
    plot = tmp_path / "calibration.png"
    result = CliRunner().invoke(app, ["evaluate", str(path), "--target", "won", "--folds", "3", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert plot.exists() and plot.read_bytes()[:4] == b"\x89PNG"
    assert "naive bayes" in result.stdout and str(plot) in result.stdout.replace("\n", "")


def test_cli_evaluate_rejects_an_unknown_column(tmp_path):
    path = tmp_path / "funnel.csv"
    synthetic_funnel(n=100).to_csv(path, index=False)
    result = CliRunner().invoke(app, ["evaluate", str(path), "--target", "nope", "--json"])
    assert result.exit_code == 1
    assert "nope" in result.output
