"""The conversion model: scikit-learn contract, exact explanations, and quality on real data."""

from __future__ import annotations

import io

import joblib
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from conftest import shared_data
from leadml.predict import metrics
from leadml.predict.explain import TreeTables, category_totals, top_k, top_reasons
from leadml.predict.model import ConversionModel
from leadml.predict.result import Reason
from leadml.predict.tabular import TabularEncoder

POST_CONTACT = ["Tags", "Lead Quality", "Lead Profile", "Last Activity", "Last Notable Activity",
                "Asymmetrique Activity Index", "Asymmetrique Profile Index", "Asymmetrique Activity Score",
                "Asymmetrique Profile Score"]


@parametrize_with_checks(
    [ConversionModel(n_estimators=30, cv=3)],
    expected_failed_checks=lambda estimator: {
        "check_class_weight_classifiers": (
            "class weights only change the boosting; probabilities are then calibrated on the true class "
            "frequencies, so a heavily weighted class does not dominate the predictions (by design)"
        ),
    },
)
def test_sklearn_contract(estimator, check):
    check(estimator)


def synthetic_leads(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "visits": rng.poisson(3, n).astype(float),
        "source": rng.choice(["web", "referral", "ads", "event", "partner"], n, p=[0.4, 0.2, 0.2, 0.15, 0.05]),
        "landing_page": rng.choice([f"page-{i}" for i in range(120)], n),
        "opted_in": rng.random(n) < 0.5,
        "seconds_on_site": rng.exponential(300, n),
    })
    frame.loc[rng.random(n) < 0.15, "seconds_on_site"] = np.nan
    frame.loc[rng.random(n) < 0.1, "source"] = None
    logit = (-1.5 + 0.3 * frame["visits"] + 1.2 * (frame["source"] == "referral") + 0.8 * frame["opted_in"]
             + 0.002 * frame["seconds_on_site"].fillna(0) * (frame["source"] == "ads"))
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, y


@pytest.fixture(scope="module")
def fitted() -> tuple[ConversionModel, pd.DataFrame, np.ndarray]:
    frame, y = synthetic_leads()
    return ConversionModel(random_state=0).fit(frame, y), frame, y


def test_contributions_add_up_to_the_log_odds(fitted):
    model, frame, _ = fitted
    base, contrib = model.contributions(frame)
    assert contrib.shape == (len(frame), frame.shape[1])
    np.testing.assert_allclose(base + contrib.sum(axis=1), model.decision_function(frame), atol=1e-9)


def test_tree_contributions_are_lightgbms_treeshap():
    frame, y = synthetic_leads(seed=1)
    model = ConversionModel(linear_C=0, random_state=1).fit(frame, y)  # trees only
    assert model.blend_weight_ == 0.0
    pooled = model.encoder_.pool_rare(model.encoder_.transform(frame))
    reference = model.booster_.predict(pooled, pred_contrib=True)
    base, contrib = model.contributions(frame)
    np.testing.assert_allclose(contrib, reference[:, :-1], atol=1e-9)
    assert base == pytest.approx(reference[0, -1], abs=1e-9)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_tree_tables_match_pred_contrib_with_missing_values_and_categories(depth):
    frame, y = synthetic_leads(seed=depth)
    encoder = TabularEncoder(min_level_count=1).fit(frame)
    matrix = encoder.transform(frame)
    params = {"objective": "binary", "max_depth": depth, "num_leaves": 2**depth, "verbose": -1,
              "min_data_in_leaf": 5, "bagging_fraction": 0.8, "bagging_freq": 1}
    booster = lgb.train(params, lgb.Dataset(matrix, y, categorical_feature=encoder.categorical_indices_), 60)
    base, contrib = TreeTables(booster).contributions(matrix)
    reference = booster.predict(matrix, pred_contrib=True)
    np.testing.assert_allclose(contrib, reference[:, :-1], atol=1e-9)
    assert base == pytest.approx(reference[0, -1], abs=1e-9)


def test_probability_is_calibrated_monotone_and_picklable(fitted):
    model, frame, _ = fitted
    log_odds, p = model.decision_function(frame), model.predict_proba(frame)[:, 1]
    order = np.argsort(log_odds)
    assert np.all(np.diff(p[order]) >= 0)  # never lower for a higher log-odds
    assert np.all((p > 0) & (p < 1))
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).predict_proba(frame), model.predict_proba(frame))


def test_importance_names_every_column_and_sums_to_one(fitted):
    model, frame, _ = fitted
    names = [name for name, _ in model.feature_importance_]
    assert sorted(names) == sorted(frame.columns)
    assert sum(value for _, value in model.feature_importance_) == pytest.approx(1.0)
    assert names[0] in ("visits", "source")  # the strongest signals rank first


def test_text_labels_unseen_levels_and_missing_values():
    frame, y = synthetic_leads(n=800, seed=3)
    labels = np.where(y == 1, "won", "lost")
    model = ConversionModel(random_state=0).fit(frame, labels)
    assert list(model.classes_) == ["lost", "won"]
    new = frame.head(3).copy()
    new["source"] = ["a brand new source", None, "web"]
    new["landing_page"] = "page-never-seen"
    new.loc[0, "visits"] = np.nan
    p = model.predict_proba(new)[:, 1]
    assert np.all((p > 0) & (p < 1))
    assert set(model.predict(new)) <= {"lost", "won"}


def test_reasons_and_vectorized_top_k_agree():
    contributions = np.array([[0.5, -0.2, 0.0, 1.5, -0.9], [-0.1, -0.3, 0.2, 0.0, 0.0]])
    names = ["title", "opens", "pages", "meetings", "industry"]
    categories = {"title": "demographic", "opens": "engagement", "pages": "behavioral", "meetings": "behavioral"}
    pos_idx, pos_val, neg_idx, neg_val = top_k(contributions, k=2)
    np.testing.assert_array_equal(pos_idx, [[3, 0], [2, -1]])
    np.testing.assert_allclose(pos_val, [[1.5, 0.5], [0.2, 0.0]])
    np.testing.assert_array_equal(neg_idx, [[4, 1], [1, 0]])
    np.testing.assert_allclose(neg_val, [[-0.9, -0.2], [-0.3, -0.1]])
    positive, negative = top_reasons(names, ["CTO", 2, 5, 1, "retail"], contributions[0], categories, k=2)
    assert [r.feature for r in positive] == ["meetings", "title"]
    assert [r.feature for r in negative] == ["industry", "opens"]
    assert isinstance(positive[0], Reason) and positive[0].category == "behavioral"
    assert negative[0].category == "custom" and "lowers" in negative[0].text
    totals = category_totals(contributions, names, categories)
    np.testing.assert_allclose(totals["behavioral"], [1.5, 0.2])
    np.testing.assert_allclose(totals["custom"], [-0.9, 0.0])


# --- real data ---------------------------------------------------------------------------


def x_education(drop: list[str] = ()) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_csv(shared_data("x-education-leads", "Leads.csv"), na_values=["Select"])
    y = frame.pop("Converted").to_numpy()
    return frame.drop(columns=["Prospect ID", "Lead Number", *drop]), y


def out_of_fold(frame: pd.DataFrame, y: np.ndarray, folds: int = 3) -> np.ndarray:
    p = np.zeros(len(y))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(frame, y):
        p[test] = ConversionModel(random_state=0).fit(frame.iloc[train], y[train]).predict_proba(frame.iloc[test])[:, 1]
    return p


@pytest.mark.slow
def test_x_education_all_columns_quality():
    frame, y = x_education()
    p = out_of_fold(frame, y)
    assert 0.98 <= metrics.roc_auc(y, p) < 0.995  # 0.984; perfect would mean the target leaked in
    assert metrics.ece(y, p) <= 0.02


@pytest.mark.slow
def test_x_education_without_post_contact_columns_quality():
    frame, y = x_education(POST_CONTACT)
    p = out_of_fold(frame, y)
    # 0.877; the post-contact columns lift it to 0.98, so above 0.92 one of them leaked back in.
    assert 0.865 <= metrics.roc_auc(y, p) < 0.92
    assert metrics.ece(y, p) <= 0.02
