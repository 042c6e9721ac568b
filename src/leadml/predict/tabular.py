"""Lead columns -> numbers: the encoder every trained model shares, and the linear part of the
conversion model.

`TabularEncoder` types the columns: numbers and booleans stay numeric; text and pandas categories
become categorical, each of its `max_levels` most frequent levels with a code, and one more code,
"other", for the rest and for levels never seen in training. Trees read a pooled view where levels
with fewer than `min_level_count` training rows are "other" too. "Missing" is a level like any
other, because an empty field is often informative (a lead that never said what it does).
Placeholder values such as a web form's "Select" are not special-cased: they are one more level
unless the caller reads them as missing (`leadml evaluate --na-values Select`).

`LinearPart` is a ridge-penalized logistic regression on one-hot levels and standardized numbers. On
high-cardinality columns (a landing page id with hundreds of values) its shrunken per-level effects
generalize better than tree splits; the conversion model blends it with the trees by a weight chosen
out of fold, so data that does not need it gives it no weight.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

OTHER_LEVEL = "(other)"
MISSING_LEVEL = "(missing)"
# Trees see at most this many levels of a column (the most frequent); the rest are pooled.
TREE_LEVELS = 250
# Standardized numbers are clipped so that one extreme value cannot dominate the linear part.
Z_CLIP = 5.0


def as_frame(X: Any) -> pd.DataFrame:
    """A DataFrame view of X; plain arrays get columns x0, x1, ... (scikit-learn's convention)."""
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"Expected a 2-D table of leads, got an array with shape {array.shape}.")
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


def _is_categorical(column: pd.Series) -> bool:
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return False
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise ValueError(
            f"Column {column.name!r} holds dates; derive numbers or categories from it first "
            "(leadml.evaluate.derive_date_parts derives weekday and month)."
        )
    return True


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), MISSING_LEVEL).astype(str)


class TabularEncoder(TransformerMixin, BaseEstimator):
    """Mixed columns -> a float matrix: numbers as they are (NaN = missing), categories as codes."""

    def __init__(self, min_level_count: int = 10, max_levels: int = 1000):
        self.min_level_count = min_level_count
        self.max_levels = max_levels

    def fit(self, X: Any, y: Any = None) -> TabularEncoder:
        frame = as_frame(X)
        if frame.shape[1] == 0:
            raise ValueError("Need at least one column to learn from (0 feature(s) given).")
        self.columns_ = [str(c) for c in frame.columns]
        self.levels_: dict[str, list[str]] = {}
        self.pooled_: dict[str, np.ndarray] = {}
        for name, column in zip(self.columns_, frame.columns, strict=True):
            if _is_categorical(frame[column]):
                counts = _as_text(frame[column]).value_counts()
                counts = counts[counts.index != OTHER_LEVEL][: self.max_levels]
                self.levels_[name] = [str(level) for level in counts.index]
                # Trees see rare levels pooled into "other" (the last code); see `pool_rare`.
                common = (counts.to_numpy() >= self.min_level_count) & (np.arange(len(counts)) < TREE_LEVELS)
                codes = np.arange(len(counts) + 1)
                codes[:-1][~common] = len(counts)
                self.pooled_[name] = codes.astype(np.float64)
        self.categorical_indices_ = [i for i, c in enumerate(self.columns_) if c in self.levels_]
        self.numeric_indices_ = [i for i, c in enumerate(self.columns_) if c not in self.levels_]
        return self

    def n_codes(self, column: str) -> int:
        """Codes of a categorical column: its levels plus "other"."""
        return len(self.levels_[column]) + 1

    def pool_rare(self, matrix: np.ndarray) -> np.ndarray:
        """The matrix trees read: levels with fewer than `min_level_count` training rows become "other".

        The linear part keeps every level (its penalty shrinks rare ones); a tree split on a level seen
        a handful of times would only fit noise.
        """
        pooled = matrix.copy()
        for i in self.categorical_indices_:
            pooled[:, i] = self.pooled_[self.columns_[i]][matrix[:, i].astype(np.int64)]
        return pooled

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "columns_")
        frame = as_frame(X)
        if frame.shape[1] != len(self.columns_):
            raise ValueError(
                f"X has {frame.shape[1]} features, but the model was trained with {len(self.columns_)}."
            )
        out = np.empty((len(frame), len(self.columns_)), dtype=np.float64)
        for i, (name, column) in enumerate(zip(self.columns_, frame.columns, strict=True)):
            values = frame[column]
            if name in self.levels_:
                levels = self.levels_[name]
                codes = dict(zip(levels, range(len(levels)), strict=True))
                out[:, i] = _as_text(values).map(codes).fillna(len(levels)).to_numpy(dtype=np.float64)
            else:
                numbers = np.array(pd.to_numeric(values, errors="coerce"), dtype=np.float64)  # a copy
                numbers[~np.isfinite(numbers)] = np.nan
                out[:, i] = numbers
        return out

    def level_name(self, column: str, code: float) -> str:
        """The level behind a code, for explanations."""
        levels = self.levels_[column]
        return levels[int(code)] if int(code) < len(levels) else OTHER_LEVEL


class RowEncoder:
    """`TabularEncoder.transform` for a few feature mappings (one API call's lead and its what-ifs),
    without building pandas objects: plain Python per value, with the level -> code tables built once.

    Gives the numbers `transform` gives for a one-row DataFrame of the same mapping. Values of the
    plain kinds are encoded here: numbers, booleans and None in numeric columns; text, booleans,
    None and NaN in categorical ones. A row holding anything else (text in a numeric column, a
    number in a categorical one, numpy or pandas scalars) goes through `transform` itself.
    """

    def __init__(self, encoder: TabularEncoder, keys: Sequence[str] | None = None):
        check_is_fitted(encoder, "columns_")
        self.encoder = encoder
        self.keys = list(keys) if keys is not None else list(encoder.columns_)
        if len(self.keys) != len(encoder.columns_):
            raise ValueError(f"{len(self.keys)} keys for an encoder of {len(encoder.columns_)} columns")
        self.codes: list[dict[str, int] | None] = []
        for name in encoder.columns_:
            levels = encoder.levels_.get(name)
            self.codes.append(None if levels is None else dict(zip(levels, range(len(levels)), strict=True)))

    def transform(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        out = np.empty((len(rows), len(self.keys)), dtype=np.float64)
        for r, row in enumerate(rows):
            encoded = self._row(row)
            if encoded is None:
                frame = pd.DataFrame([{key: row.get(key) for key in self.keys}], columns=self.keys)
                out[r] = self.encoder.transform(frame)[0]
            else:
                out[r] = encoded
        return out

    def _row(self, row: Mapping[str, Any]) -> list[float] | None:
        encoded = []
        for key, codes in zip(self.keys, self.codes, strict=True):
            value = row.get(key)
            kind = type(value)
            if codes is None:
                if value is None:
                    encoded.append(math.nan)
                elif kind is float or kind is bool or (kind is int and abs(value) < 2**53):
                    number = float(value)
                    encoded.append(number if math.isfinite(number) else math.nan)
                else:
                    return None
            elif kind is str:
                encoded.append(codes.get(value, len(codes)))
            elif value is None or (kind is float and math.isnan(value)):
                encoded.append(codes.get(MISSING_LEVEL, len(codes)))
            elif kind is bool:
                encoded.append(codes.get(str(value), len(codes)))
            else:
                return None
        return encoded


class LinearPart:
    """Penalized logistic regression on the encoded matrix, with exact additive contributions.

    `prepare` fixes the design (one-hot width, medians, scales) on all training rows; the fits on
    cross-validation folds then share it, so their coefficients can be averaged into one model.
    """

    def __init__(self, encoder: TabularEncoder, C: float):
        self.encoder = encoder
        self.C = C

    def prepare(self, matrix: np.ndarray) -> LinearPart:
        numeric = matrix[:, self.encoder.numeric_indices_]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column's median is NaN, then 0
            self.medians_ = np.nan_to_num(np.nanmedian(numeric, axis=0)) if numeric.size else np.zeros(0)
            filled = np.where(np.isnan(numeric), self.medians_, numeric)
            self.means_ = filled.mean(axis=0) if len(filled) else np.zeros(numeric.shape[1])
            scale = filled.std(axis=0) if len(filled) else np.ones(numeric.shape[1])
        self.scales_ = np.where(scale > 0, scale, 1.0)
        self.offsets_ = np.cumsum(
            [0] + [self.encoder.n_codes(self.encoder.columns_[i]) for i in self.encoder.categorical_indices_]
        )
        self.coef_sum_, self.intercept_sum_, self.fits_ = None, 0.0, 0
        return self

    def _numbers(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        numeric = matrix[:, self.encoder.numeric_indices_]
        missing = np.isnan(numeric)
        z = (np.where(missing, self.medians_, numeric) - self.means_) / self.scales_
        return np.clip(z, -Z_CLIP, Z_CLIP), missing.astype(np.float64)

    def design(self, matrix: np.ndarray) -> sparse.csr_matrix:
        n = len(matrix)
        codes = matrix[:, self.encoder.categorical_indices_].astype(np.int64) + self.offsets_[:-1]
        one_hot = sparse.csr_matrix(
            (np.ones(codes.size), codes.ravel(), np.arange(0, codes.size + 1, max(codes.shape[1], 1))[: n + 1]),
            shape=(n, int(self.offsets_[-1])),
        ) if codes.shape[1] else sparse.csr_matrix((n, 0))
        z, missing = self._numbers(matrix)
        return sparse.hstack([one_hot, sparse.csr_matrix(z), sparse.csr_matrix(missing)], format="csr")

    def fit_fold(self, matrix: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
        """Fit on one fold; the coefficients are also accumulated for the averaged final model."""
        model = LogisticRegression(C=self.C, max_iter=500, tol=1e-4)
        model.fit(self.design(matrix), target)
        coef, intercept = model.coef_.ravel(), float(model.intercept_[0])
        self.coef_sum_ = coef if self.coef_sum_ is None else self.coef_sum_ + coef
        self.intercept_sum_ += intercept
        self.fits_ += 1
        return coef, intercept

    @staticmethod
    def raw(design: sparse.csr_matrix, coef: np.ndarray, intercept: float) -> np.ndarray:
        return design @ coef + intercept

    def finish(self, matrix: np.ndarray) -> None:
        """Average the fold fits and centre each column's effect on the training rows."""
        self.coef_ = self.coef_sum_ / self.fits_
        self.intercept_ = self.intercept_sum_ / self.fits_
        self.centres_ = np.asarray(self._per_column(matrix).mean(axis=0)).ravel()

    def _per_column(self, matrix: np.ndarray) -> np.ndarray:
        """n_rows x n_columns: each original column's share of the linear log-odds."""
        out = np.zeros((len(matrix), len(self.encoder.columns_)))
        width = int(self.offsets_[-1])
        for j, i in enumerate(self.encoder.categorical_indices_):
            table = self.coef_[self.offsets_[j] : self.offsets_[j + 1]]
            out[:, i] = table[matrix[:, i].astype(np.int64)]
        z, missing = self._numbers(matrix)
        k = len(self.encoder.numeric_indices_)
        out[:, self.encoder.numeric_indices_] = z * self.coef_[width : width + k] + missing * self.coef_[width + k :]
        return out

    def contributions(self, matrix: np.ndarray) -> tuple[float, np.ndarray]:
        """(base, per-column contributions); base + row sum = the linear log-odds, exactly."""
        return self.intercept_ + float(self.centres_.sum()), self._per_column(matrix) - self.centres_

    def decision(self, matrix: np.ndarray) -> np.ndarray:
        """The linear log-odds of each row."""
        return self.intercept_ + self._per_column(matrix).sum(axis=1)
