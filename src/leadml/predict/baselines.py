"""Reference baselines that `leadml evaluate` runs on the same splits as the product's model.

They are deliberately off-the-shelf, with default settings, so that "beats the baselines" means
something:
- `NaiveBayesScorer`: the frequency-table method of the best-known open-source CRM lead scorer
  ("Odoo-style"): per column, P(value | converted) and P(value | not converted) from counts with
  additive smoothing 0.1, numeric columns cut into quintile bins; like Odoo, missing and never-seen
  values are left out of the product; the columns are assumed independent (naive Bayes).
- logistic regression: one-hot categories (missing as a level, unseen levels ignored), numbers
  median-imputed and standardized, scikit-learn's default `LogisticRegression` (C=1).
- LightGBM with default parameters, categories as pandas categoricals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

MISSING = "(missing)"


def _is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype)


class NaiveBayesScorer(ClassifierMixin, BaseEstimator):
    """Odoo-style frequency-table naive Bayes (smoothing 0.1, numeric quintiles)."""

    def __init__(self, smoothing: float = 0.1, numeric_bins: int = 5):
        self.smoothing = smoothing
        self.numeric_bins = numeric_bins

    def _values(self, frame: pd.DataFrame, column: str) -> pd.Series:
        """Each lead's value as text (numbers as their quintile bin); missing stays missing."""
        values = frame[column]
        edges = self.edges_.get(column)
        if edges is None:
            return values.astype(object).where(values.notna(), None)
        numbers = pd.to_numeric(values, errors="coerce").astype(np.float64)
        bins = pd.Series(np.searchsorted(edges, numbers.to_numpy(), side="right"), index=frame.index).astype(str)
        return bins.where(numbers.notna(), None)

    def fit(self, X: pd.DataFrame, y: Any) -> NaiveBayesScorer:
        target = np.asarray(y).astype(int)
        self.classes_ = np.array([0, 1])
        self.edges_: dict[str, np.ndarray] = {}
        for column in X.columns:
            if _is_number(X[column]):
                numbers = pd.to_numeric(X[column], errors="coerce").astype(np.float64).dropna()
                quantiles = np.linspace(0, 1, self.numeric_bins + 1)[1:-1]
                self.edges_[column] = np.unique(np.quantile(numbers, quantiles)) if len(numbers) else np.zeros(0)
        self.prior_ = np.array([(target == 0).sum(), (target == 1).sum()], dtype=np.float64)
        # As in Odoo: every (column, value) count gets + smoothing; a column's totals only count the
        # leads that have a value; missing and never-seen values do not enter the product.
        self.tables_: dict[str, dict[str, float]] = {}
        for column in X.columns:
            values = self._values(X, column)
            present = values.notna().to_numpy()
            counts = pd.crosstab(values[present].astype(str), target[present]).reindex(columns=[0, 1], fill_value=0)
            counts = counts.to_numpy(dtype=np.float64) + self.smoothing
            log_ratio = np.log(counts[:, 1] / counts[:, 1].sum()) - np.log(counts[:, 0] / counts[:, 0].sum())
            index = pd.crosstab(values[present].astype(str), target[present]).index.astype(str)
            self.tables_[column] = dict(zip(index, log_ratio, strict=True))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        log_odds = np.full(len(X), np.log(self.prior_[1] / self.prior_[0]))
        for column, table in self.tables_.items():
            values = self._values(X, column)
            logs = values.map(lambda v: table.get(str(v), 0.0) if v is not None else 0.0)
            log_odds += logs.to_numpy(dtype=np.float64)
        positive = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -500, 500)))
        return np.column_stack([1 - positive, positive])


def _split_columns(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    numeric = [c for c in X.columns if _is_number(X[c])]
    return numeric, [c for c in X.columns if c not in numeric]


class LogisticBaseline(ClassifierMixin, BaseEstimator):
    """Default logistic regression on one-hot categories and standardized numbers."""

    def fit(self, X: pd.DataFrame, y: Any) -> LogisticBaseline:
        numeric, categorical = _split_columns(X)
        prepare = ColumnTransformer([
            ("categories", OneHotEncoder(handle_unknown="ignore"), categorical),
            ("numbers", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()),
             numeric),
        ])
        self.model_ = make_pipeline(prepare, LogisticRegression(max_iter=1000)).fit(self._text(X, categorical), y)
        self.categorical_ = categorical
        self.classes_ = self.model_.classes_
        return self

    @staticmethod
    def _text(X: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
        frame = X.copy()
        for c in categorical:
            frame[c] = frame[c].astype(object).where(frame[c].notna(), MISSING).astype(str)
        return frame

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(self._text(X, self.categorical_))


class LightGBMBaseline(ClassifierMixin, BaseEstimator):
    """`lightgbm.LGBMClassifier()` with default parameters; text columns as pandas categoricals."""

    def __init__(self, random_state: int | None = 0):
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any) -> LightGBMBaseline:
        _numeric, categorical = _split_columns(X)
        self.categories_ = {c: pd.Index(X[c].dropna().astype(str).unique()) for c in categorical}
        self.model_ = lgb.LGBMClassifier(verbose=-1, random_state=self.random_state).fit(self._frame(X), y)
        self.classes_ = self.model_.classes_
        return self

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        frame = X.copy()
        for c, levels in self.categories_.items():
            text = frame[c].astype(object).where(frame[c].notna(), None)
            frame[c] = pd.Categorical(text.map(lambda v: None if v is None else str(v)), categories=levels)
        for c in frame.columns:
            if c not in self.categories_:
                frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(np.float64)
        return frame

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(self._frame(X))


BASELINES: dict[str, Callable[[int], Any]] = {
    "naive_bayes": lambda seed: NaiveBayesScorer(),
    "logistic_regression": lambda seed: LogisticBaseline(),
    "lightgbm_default": lambda seed: LightGBMBaseline(random_state=seed),
}
