"""The trained conversion model: lead columns in, calibrated conversion probability out.

What `ConversionModel` is, in the order the log-odds are built:
1. Columns are typed and encoded by `tabular.TabularEncoder`: numbers stay numbers (missing = NaN),
   text becomes categories; trees see levels with fewer than `min_level_count` rows pooled.
2. Trees: LightGBM with native categorical splits (`cat_smooth`, `min_data_per_group`), depth 3,
   row and column subsampling, L2 leaf penalty. Depth 3 is the explanation budget: exact TreeSHAP of
   a depth-3 tree depends on at most 2^7 decision patterns, so `explain.TreeTables` precomputes them
   and explains a million leads in seconds (LightGBM's own `pred_contrib` takes minutes; see
   benchmarks/bench_evaluate.py for the AUC given up against a deeper forest).
3. A linear part (`tabular.LinearPart`: ridge logistic regression on one-hot levels and standardized
   numbers), blended as log-odds = w x linear + (1 - w) x trees, with w chosen on out-of-fold log loss.
   It earns weight on high-cardinality columns such as a landing page id and little elsewhere.
4. Cross-fitting: `cv` stratified folds. On each, the trees early-stop on the held-out fold and both
   parts predict it; the final trees are refitted on all rows with the median early-stopped count,
   the final linear part averages the fold fits.
5. Calibration: a monotone calibrator (a centred, interpolated isotonic map by default, or Platt
   "sigmoid") maps the blended out-of-fold log-odds to probabilities, bounded away from 0 and 1.

Class imbalance is handled by stratified folds and calibration rather than by re-weighting rows
(`class_weight="balanced"` is available): re-weighting distorts probabilities that calibration must
then undo, and it did not raise AUC on the reference data sets.

Explanations: `contributions(X)` gives exact per-lead, per-column contributions on the log-odds scale
(TreeSHAP for the trees, coefficient x centred value for the linear part, blended with the same w);
with the base value they add up to `decision_function(X)`. The calibrated probability is a
non-decreasing function of that log-odds, so a column that pushes the log-odds up never lowers the
probability.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from leadml.predict.explain import TreeTables
from leadml.predict.tabular import LinearPart, RowEncoder, TabularEncoder, as_frame

# Probabilities are kept off 0 and 1: no lead is ever certain, log loss stays finite, and a calibrated
# probability never reads "0.0 %" or "100.0 %" at the tenth of a percent the page shows.
PROBABILITY_FLOOR = 1e-3
BLEND_WEIGHTS = np.linspace(0.0, 1.0, 21)
IMPORTANCE_SAMPLE = 2000
SMALL_DATA_ROWS = 50_000


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


def tree_params(estimator: Any, *, n_rows: int) -> dict[str, Any]:
    """LightGBM parameters shared by the conversion and time-to-close models."""
    return {
        "objective": "binary",
        "learning_rate": estimator.learning_rate,
        "max_depth": estimator.max_depth,
        "num_leaves": 2**estimator.max_depth,
        "min_data_in_leaf": estimator.min_child_samples,
        "bagging_fraction": estimator.subsample,
        "bagging_freq": 1 if estimator.subsample < 1 else 0,
        "feature_fraction": estimator.colsample_bytree,
        "lambda_l2": estimator.reg_lambda,
        # Categorical splits: a level needs support and its statistics are shrunk toward the mean.
        "cat_smooth": estimator.cat_smooth,
        "cat_l2": 10.0,
        "min_data_per_group": max(5, min(50, n_rows // 20)),
        "max_cat_to_onehot": 4,
        "verbose": -1,
        "seed": estimator.random_state if estimator.random_state is not None else 0,
        # Below ~50,000 rows one thread is faster: thread start-up and contention with other
        # processes cost more than the split search saves (measured: up to 10x slower on 2 busy cores).
        "num_threads": estimator.n_jobs or (1 if n_rows < SMALL_DATA_ROWS else 0),
        "deterministic": True,
        "force_row_wise": True,
    }


class MonotoneCalibrator:
    """Maps log-odds to probabilities with an increasing function fitted on held-out predictions.

    "isotonic" is isotonic regression made smooth and bounded (a centred isotonic regression):
    1. isotonic regression of the outcome on the held-out log-odds gives blocks of leads (maximal
       runs with one fitted rate);
    2. each block becomes one point: its leads' mean log-odds and its rate shrunk by half a lead each
       way ((converted + 0.5) / (leads + 1)), so a block with no conversions is not "0 %"; a second
       isotonic pass on the points (weighted by leads) restores order if the shrinkage broke it;
    3. between points the map interpolates linearly on the logit scale, and beyond the first and last
       point it continues with the slope of a Platt fit on the same predictions.
    The step function would give every lead of a block the same probability (a ranked page showed
    15 distinct values in 100 leads); the interpolated map is strictly increasing, so leads with
    different evidence get different probabilities while each block keeps about its observed rate.
    Every method's output stays within [PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR].
    """

    def __init__(self, method: str):
        self.method = method

    def fit(self, log_odds: np.ndarray, y: np.ndarray) -> MonotoneCalibrator:
        if self.method == "isotonic":
            self.knots_, self.knot_logits_, self.tail_slope_ = centred_isotonic(log_odds, y)
        elif self.method == "sigmoid":
            self.slope_, self.intercept_ = platt(log_odds, y)
        elif self.method != "none":
            raise ValueError(f"calibration must be 'isotonic', 'sigmoid' or 'none', not {self.method!r}")
        return self

    def __call__(self, log_odds: np.ndarray) -> np.ndarray:
        z = np.asarray(log_odds, dtype=np.float64)
        if self.method == "isotonic" and hasattr(self, "knots_"):
            p = sigmoid(interpolate_logit(z, self.knots_, self.knot_logits_, self.tail_slope_))
        elif self.method == "isotonic":  # a model pickled before the centred map: its step function
            p = self.isotonic_.predict(z)
        elif self.method == "sigmoid":
            p = sigmoid(self.slope_ * z + self.intercept_)
        else:
            p = sigmoid(z)
        return np.clip(p, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)


def centred_isotonic(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(knot log-odds, knot logits, tail slope) of the centred isotonic map; see MonotoneCalibrator."""
    z, y = np.asarray(z, dtype=np.float64), np.asarray(y, dtype=np.float64)
    order = np.argsort(z, kind="stable")
    z, y = z[order], y[order]
    fitted = IsotonicRegression(out_of_bounds="clip").fit_transform(z, y)
    # Blocks: runs of one fitted value (isotonic output is non-decreasing, so a change starts a block).
    starts = np.flatnonzero(np.r_[True, np.diff(fitted) > 1e-12])
    leads = np.diff(np.r_[starts, len(z)]).astype(np.float64)
    centres = np.add.reduceat(z, starts) / leads
    rates = (np.add.reduceat(y, starts) + 0.5) / (leads + 1.0)
    rates = IsotonicRegression().fit_transform(centres, rates, sample_weight=leads)
    # Merge points the second pass made equal (weighted centre), so knots are strictly increasing.
    keep = np.r_[True, np.diff(rates) > 1e-12]
    group = np.cumsum(keep) - 1
    weight = np.bincount(group, leads)
    knots = np.bincount(group, centres * leads) / weight
    values = rates[keep]
    knots, unique = np.unique(knots, return_index=True)
    values = np.clip(values[unique], PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    slope, _ = platt(z, y) if 0 < y.sum() < len(y) else (1.0, 0.0)
    return knots, np.log(values / (1 - values)), float(max(slope, 1e-3))


def interpolate_logit(z: np.ndarray, knots: np.ndarray, logits: np.ndarray, tail_slope: float) -> np.ndarray:
    """Piecewise-linear logit through the knots, straight lines of `tail_slope` beyond them."""
    out = np.interp(z, knots, logits)
    below, above = z < knots[0], z > knots[-1]
    out[below] = logits[0] + tail_slope * (z[below] - knots[0])
    out[above] = logits[-1] + tail_slope * (z[above] - knots[-1])
    return out


def platt(z: np.ndarray, y: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """Logistic regression of y on z by Newton steps with a tiny ridge (Platt scaling)."""
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = sigmoid(a * z + b)
        w = np.maximum(p * (1 - p), 1e-12)
        g = np.array([np.sum((p - y) * z) + 1e-6 * a, np.sum(p - y)])
        h = np.array([[np.sum(w * z * z) + 1e-6, np.sum(w * z)], [np.sum(w * z), np.sum(w) + 1e-9]])
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)


def log_loss_of(log_odds: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(sigmoid(log_odds), 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


class ConversionModel(ClassifierMixin, BaseEstimator):
    """Calibrated probability that a lead converts, with exact per-lead explanations.

    X: a pandas DataFrame of mixed columns (numbers, booleans, text categories, missing values) or a
    numeric array. y: two classes; the second of the sorted labels (1, True, "yes") is "converted".
    """

    def __init__(
        self,
        *,
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        cat_smooth: float = 50.0,
        min_level_count: int = 10,
        max_levels: int = 1000,
        linear_C: float = 0.3,
        class_weight: str | None = None,
        calibration: str = "isotonic",
        cv: int = 5,
        early_stopping_rounds: int = 50,
        n_jobs: int | None = None,
        random_state: int | None = 0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.cat_smooth = cat_smooth
        self.min_level_count = min_level_count
        self.max_levels = max_levels
        self.linear_C = linear_C
        self.class_weight = class_weight
        self.calibration = calibration
        self.cv = cv
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    # --- fitting ---------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> ConversionModel:
        frame = check_table(self, X, reset=True)
        target = self._encode_target(y, len(frame))
        self.encoder_ = TabularEncoder(self.min_level_count, self.max_levels).fit(frame)
        full = self.encoder_.transform(frame)
        pooled = self.encoder_.pool_rare(full)
        self._params = tree_params(self, n_rows=len(target))
        if self.class_weight == "balanced":
            share = float(target.mean())
            self._params["scale_pos_weight"] = (1 - share) / share
        self.linear_, self.blend_weight_ = None, 0.0
        folds = min(self.cv, int(min(target.sum(), len(target) - target.sum())))
        if folds < 2 or self.calibration == "none":
            # Too few leads of one class to hold any out: one small, uncalibrated tree model.
            self.n_trees_ = min(self.n_estimators, 100)
            self.calibrator_ = MonotoneCalibrator("none").fit(np.zeros(0), target)
        else:
            out_of_fold = self._cross_fit(full, pooled, target, folds)
            self.calibrator_ = MonotoneCalibrator(self.calibration).fit(out_of_fold, target)
        self.booster_ = self._train(pooled, target, self.n_trees_)
        self.explainer_ = TreeTables(self.booster_)
        self.feature_importance_ = self._importance(full, pooled)
        del self._params
        return self

    def _encode_target(self, y: Any, n_rows: int) -> np.ndarray:
        labels = column_or_1d(y, warn=True)
        if len(labels) != n_rows:
            raise ValueError(f"y has {len(labels)} labels but X has {n_rows} leads.")
        if type_of_target(labels) not in ("binary", "multiclass") or pd.isna(labels).any():
            raise ValueError("Unknown label type: y must hold two classes (converted or not).")
        self.classes_ = np.unique(labels)
        if len(self.classes_) != 2:
            raise ValueError(
                "Only binary classification is supported: ConversionModel needs y with 2 classes "
                f"(converted and not); it has {len(self.classes_)} class(es)."
            )
        return (labels == self.classes_[1]).astype(np.float64)

    def _train(self, matrix, target, rounds, valid=None):
        data = lgb.Dataset(matrix, target, free_raw_data=False, categorical_feature=self.encoder_.categorical_indices_)
        if valid is None:
            return lgb.train(self._params, data, num_boost_round=max(1, rounds))
        held = data.create_valid(valid[0], valid[1])
        stop = lgb.early_stopping(self.early_stopping_rounds, first_metric_only=True, verbose=False)
        params = {**self._params, "metric": "binary_logloss"}
        return lgb.train(params, data, num_boost_round=rounds, valid_sets=[held], callbacks=[stop])

    def _cross_fit(self, full: np.ndarray, pooled: np.ndarray, target: np.ndarray, folds: int) -> np.ndarray:
        """Fit trees and linear part on `folds` folds; returns the blended out-of-fold log-odds.

        Sets the tree count of the final model (median of the folds' early stops) and the blend weight.
        """
        linear = LinearPart(self.encoder_, self.linear_C).prepare(full) if self.linear_C else None
        trees_oof, linear_oof = np.zeros(len(target)), np.zeros(len(target))
        counts = []
        splitter = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
        for train, held in splitter.split(pooled, target):
            booster = self._train(pooled[train], target[train], self.n_estimators,
                                  valid=(pooled[held], target[held]))
            counts.append(booster.best_iteration or self.n_estimators)
            trees_oof[held] = booster.predict(pooled[held], num_iteration=counts[-1], raw_score=True)
            if linear is not None:
                coef, intercept = linear.fit_fold(full[train], target[train])
                linear_oof[held] = linear.design(full[held]) @ coef + intercept
        self.n_trees_ = int(np.median(counts))
        if linear is None:
            return trees_oof
        linear.finish(full)
        losses = [log_loss_of(w * linear_oof + (1 - w) * trees_oof, target) for w in BLEND_WEIGHTS]
        self.blend_weight_ = float(BLEND_WEIGHTS[int(np.argmin(losses))])
        self.linear_ = linear if self.blend_weight_ > 0 else None
        return self.blend_weight_ * linear_oof + (1 - self.blend_weight_) * trees_oof

    def _importance(self, full: np.ndarray, pooled: np.ndarray) -> list[tuple[str, float]]:
        """Mean absolute contribution over (a sample of) the training rows, normalized to sum 1."""
        if len(full) > IMPORTANCE_SAMPLE:
            pick = np.random.default_rng(0).choice(len(full), IMPORTANCE_SAMPLE, replace=False)
            full, pooled = full[pick], pooled[pick]
        weight = np.abs(self._contributions(full, pooled)[1]).mean(axis=0)
        total = weight.sum()
        weight = weight / total if total > 0 else weight
        return sorted(zip(self.encoder_.columns_, weight.tolist(), strict=True), key=lambda pair: -pair[1])

    # --- predicting and explaining ----------------------------------------------------------

    def _matrices(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        check_is_fitted(self, "booster_")
        full = self.encoder_.transform(check_table(self, X, reset=False))
        return full, self.encoder_.pool_rare(full)

    def _contributions(self, full: np.ndarray, pooled: np.ndarray) -> tuple[float, np.ndarray]:
        base, contrib = self.explainer_.contributions(pooled)
        if self.linear_ is not None:
            w = self.blend_weight_
            linear_base, linear_contrib = self.linear_.contributions(full)
            base, contrib = w * linear_base + (1 - w) * base, w * linear_contrib + (1 - w) * contrib
        return float(base), contrib

    def _decision(self, full: np.ndarray, pooled: np.ndarray) -> np.ndarray:
        # A few rows: the compiled trees add up the very numbers LightGBM adds, without its call overhead.
        raw = self.explainer_.raw_score(pooled, self.booster_.num_trees())
        if raw is None:
            raw = self.booster_.predict(pooled, raw_score=True)
        if self.linear_ is not None:
            raw = self.blend_weight_ * self.linear_.decision(full) + (1 - self.blend_weight_) * raw
        return raw

    def _probability(self, log_odds: np.ndarray) -> np.ndarray:
        # The calibrator is flat only beyond the bounds; a tiny log-odds term keeps the full ranking there.
        return self.calibrator_(log_odds) * (1 - 1e-6) + 1e-6 * sigmoid(log_odds)

    def decision_function(self, X: Any) -> np.ndarray:
        """Uncalibrated log-odds (what `contributions` adds up to)."""
        return self._decision(*self._matrices(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        positive = self._probability(self.decision_function(X))
        return np.column_stack([1 - positive, positive])

    # --- one lead at a time (the API path): encoded rows in, the same numbers out ------------------

    def row_encoder(self, keys: Sequence[str] | None = None) -> RowEncoder:
        """Encodes feature mappings (read by `keys`, in column order) without pandas; build once per model."""
        check_is_fitted(self, "booster_")
        self.explainer_.compile()
        return RowEncoder(self.encoder_, keys)

    def encoded(self, rows: RowEncoder, records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """(full, pooled) matrices of `records`, as `predict_proba` and `contributions` encode a frame."""
        full = rows.transform(records)
        return full, self.encoder_.pool_rare(full)

    def probability_of_encoded(self, full: np.ndarray, pooled: np.ndarray) -> np.ndarray:
        """`predict_proba(X)[:, 1]` for the rows `encoded` gave."""
        return self._probability(self._decision(full, pooled))

    def contributions_of_encoded(self, full: np.ndarray, pooled: np.ndarray) -> tuple[float, np.ndarray]:
        """`contributions(X)` for the rows `encoded` gave."""
        return self._contributions(full, pooled)

    def predict(self, X: Any) -> np.ndarray:
        converted = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[converted.astype(int)]

    def contributions(self, X: Any) -> tuple[float, np.ndarray]:
        """(base value, n_rows x n_features): exact log-odds contributions, one column per input column.

        base + row sum == decision_function(X) for every row (up to float rounding).
        """
        return self._contributions(*self._matrices(X))

    @property
    def feature_names_(self) -> list[str]:
        check_is_fitted(self, "encoder_")
        return list(self.encoder_.columns_)


def check_table(estimator: BaseEstimator, X: Any, *, reset: bool) -> pd.DataFrame:
    """scikit-learn's input checks (shape, feature names and counts) without forcing numbers."""
    if sparse.issparse(X):
        raise TypeError("Sparse input is not supported: pass a DataFrame or a dense array of leads.")
    if not isinstance(X, pd.DataFrame):
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(f"Expected a 2D table of leads, got shape {array.shape}. Reshape your data.")
        if np.iscomplexobj(array):
            raise ValueError("Complex data not supported.")
        if array.shape[1] == 0:
            raise ValueError(f"Found array with 0 feature(s) (shape={array.shape}) while a minimum of 1 is required.")
    validate_data(estimator, X, reset=reset, skip_check_array=True)
    frame = as_frame(X)
    if len(frame) == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={frame.shape}) while a minimum of 1 is required.")
    return frame
