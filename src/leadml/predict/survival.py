"""Time to close: how many days until a lead closes, with leads still open as censored observations.

`TimeToCloseModel` is a discrete-time hazard model. Time is cut into `n_intervals` intervals at
quantiles of the observed times to close; the last edge, the horizon, is their 98th percentile (the
slowest 2 % of closes are outliers that would stretch every interval). Every lead contributes one
row per interval it was still open at the start of ("person-period" rows); the label says whether it
closed in that interval. A LightGBM classifier (the same encoder and tree
settings as the conversion model, plus the interval number as a feature) learns the hazard
h(interval | lead). A lead's probability of having closed by the end of interval j is
F_j = 1 - prod_{i <= j} (1 - h_i).

Open leads are right-censored: they count as "not closed" in every interval they were observed in
(the last one weighted by the share of it observed), and drop out after. Most of them never close,
so the product answers "if this lead closes within the horizon, when?": the distribution
G(t) = F(t) / F(horizon), linear within an interval.
`predict_interval` returns its median and its 10th-90th percentiles (an 80 % interval);
`expected_days_open` returns the restricted mean time the lead stays open within the horizon, the
ranking to use for a censored C-index (it also reflects how likely the lead is to close at all).

y: a structured array with boolean field "event" (closed) and float field "time" (days), as in
scikit-survival, or `fit(X, durations, events)` with two arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from leadml.predict.explain import TreeTables
from leadml.predict.model import check_table, tree_params
from leadml.predict.tabular import RowEncoder, TabularEncoder


def survival_target(events: Any, days: Any) -> np.ndarray:
    """The structured y (fields event, time) the model takes, from two arrays."""
    events, days = np.asarray(events, dtype=bool).ravel(), np.asarray(days, dtype=np.float64).ravel()
    target = np.empty(len(events), dtype=[("event", bool), ("time", np.float64)])
    target["event"], target["time"] = events, days
    return target


class TimeToCloseModel(BaseEstimator):
    """Predicted days to close (median) with an 80 % interval, learning from open leads too."""

    def __init__(
        self,
        *,
        n_intervals: int = 10,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        cat_smooth: float = 10.0,
        min_level_count: int = 10,
        max_levels: int = 1000,
        coverage: float = 0.8,
        horizon_quantile: float = 0.98,
        max_period_rows: int = 500_000,
        early_stopping_rounds: int | None = 30,
        n_jobs: int | None = None,
        random_state: int | None = 0,
    ):
        self.n_intervals = n_intervals
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
        self.coverage = coverage
        self.horizon_quantile = horizon_quantile
        self.max_period_rows = max_period_rows
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any, event: Any = None, sample_weight: Any = None) -> TimeToCloseModel:
        frame = check_table(self, X, reset=True)
        closed, days = _split_target(y, event, len(frame))
        lead_weight = np.ones(len(frame)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if closed.sum() < 2:
            raise ValueError("TimeToCloseModel needs at least 2 closed leads to learn when leads close.")
        self.encoder_ = TabularEncoder(self.min_level_count, self.max_levels).fit(frame)
        matrix = self.encoder_.pool_rare(self.encoder_.transform(frame))
        self.edges_ = _interval_edges(days[closed], self.n_intervals, self.horizon_quantile)
        self.horizon_days_ = float(self.edges_[-1])
        rng = np.random.default_rng(self.random_state)
        rows, interval, label, weight = _person_periods(days, closed, self.edges_, self.max_period_rows, rng)
        weight = weight * lead_weight[rows]
        params = tree_params(self, n_rows=len(rows))
        categorical = self.encoder_.categorical_indices_
        design = np.column_stack([matrix[rows], interval])
        self.n_trees_ = self.n_estimators
        if self.early_stopping_rounds:
            # Early stopping on a fifth of the leads (all their periods together), then a refit on all.
            # Validation reads only held-out leads that closed: the stop then tracks *when* leads close,
            # which the far more numerous "never closed yet" periods would otherwise drown out.
            held_leads = rng.random(len(frame)) < 0.2
            held, judged = held_leads[rows], (held_leads & closed)[rows]
            train_set = lgb.Dataset(design[~held], label[~held], weight=weight[~held],
                                    categorical_feature=categorical, free_raw_data=False)
            valid_set = train_set.create_valid(design[judged], label[judged], weight=weight[judged])
            probe = lgb.train({**params, "metric": "binary_logloss"}, train_set, self.n_estimators,
                              valid_sets=[valid_set],
                              callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)])
            self.n_trees_ = probe.best_iteration or self.n_estimators
        full_set = lgb.Dataset(design, label, weight=weight, categorical_feature=categorical)
        self.booster_ = lgb.train(params, full_set, self.n_trees_)
        self.tables_ = TreeTables(self.booster_)  # scores a lead at every interval in one pass
        return self

    # --- predictions ---------------------------------------------------------------------

    def _hazards(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "booster_")
        return self._hazards_of(self.encoder_.pool_rare(self.encoder_.transform(check_table(self, X, reset=False))))

    def _hazards_of(self, matrix: np.ndarray) -> np.ndarray:
        n_periods = len(self.edges_) - 1
        with_period = np.column_stack([matrix, np.zeros(len(matrix))])  # the period column is set per interval
        raw = self.tables_.raw_grid(with_period, matrix.shape[1], np.arange(n_periods, dtype=np.float64))
        return 1.0 / (1.0 + np.exp(-raw))

    def closed_by(self, X: Any) -> np.ndarray:
        """n_rows x n_edges: probability of having closed by each interval edge (first column 0)."""
        return self._closed_by(self._hazards(X))

    @staticmethod
    def _closed_by(hazards: np.ndarray) -> np.ndarray:
        still_open = np.cumprod(1.0 - hazards, axis=1)
        return np.column_stack([np.zeros(len(still_open)), 1.0 - still_open])

    def quantiles(self, X: Any, levels: Any) -> np.ndarray:
        """n_rows x len(levels): quantiles (days) of the time to close, given a close within the horizon."""
        return self._quantiles(self.closed_by(X), levels)

    def _quantiles(self, closed: np.ndarray, levels: Any) -> np.ndarray:
        given_close = closed / np.maximum(closed[:, -1:], 1e-12)
        out = np.empty((len(closed), len(levels)))
        rows = np.arange(len(closed))
        for k, level in enumerate(levels):
            upper = np.clip((given_close < level).sum(axis=1), 1, len(self.edges_) - 1)
            low_p, high_p = given_close[rows, upper - 1], given_close[rows, upper]
            share = np.clip((level - low_p) / np.maximum(high_p - low_p, 1e-12), 0.0, 1.0)
            out[:, k] = self.edges_[upper - 1] + share * (self.edges_[upper] - self.edges_[upper - 1])
        return out

    def _interval_levels(self) -> list[float]:
        tail = (1.0 - self.coverage) / 2
        return [0.5, tail, 1.0 - tail]

    # --- one lead at a time (the API path): encoded rows in, the same numbers out ------------------

    def row_encoder(self, keys: Sequence[str] | None = None) -> RowEncoder:
        """Encodes feature mappings (read by `keys`, in column order) without pandas; build once per model."""
        check_is_fitted(self, "booster_")
        self.tables_.compile()
        return RowEncoder(self.encoder_, keys)

    def interval_of_records(self, rows: RowEncoder,
                            records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`predict_interval` of feature mappings (the lead and its what-ifs in one call)."""
        matrix = self.encoder_.pool_rare(rows.transform(records))
        q = self._quantiles(self._closed_by(self._hazards_of(matrix)), self._interval_levels())
        return q[:, 0], q[:, 1], q[:, 2]

    def predict_interval(self, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(median, low, high) days; low-high holds `coverage` (80 %) of the predicted distribution."""
        q = self.quantiles(X, self._interval_levels())
        return q[:, 0], q[:, 1], q[:, 2]

    def predict(self, X: Any) -> np.ndarray:
        """Median days to close, given the lead closes within the horizon."""
        return self.quantiles(X, [0.5])[:, 0]

    def expected_days_open(self, X: Any) -> np.ndarray:
        """Restricted mean days the lead stays open within the horizon (higher = closes later or never)."""
        open_share = 1.0 - self.closed_by(X)
        widths = np.diff(self.edges_)
        return ((open_share[:, 1:] + open_share[:, :-1]) / 2 * widths).sum(axis=1)


def _split_target(y: Any, event: Any, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    if event is None:
        records = np.asarray(y)
        if records.dtype.names is None or not {"event", "time"} <= set(records.dtype.names):
            raise ValueError("y must be a structured array with fields 'event' and 'time', or pass events too.")
        closed, days = records["event"].astype(bool), records["time"].astype(np.float64)
    else:
        closed = np.asarray(event).astype(bool).ravel()
        days = np.asarray(y, dtype=np.float64).ravel()
    if len(days) != n_rows or len(closed) != n_rows:
        raise ValueError(f"y has {len(days)} durations but X has {n_rows} leads.")
    if np.isnan(days).any():
        raise ValueError("Durations must not be missing (an open lead's duration is its time open so far).")
    return closed, np.maximum(days, 0.0)


def _interval_edges(closed_days: np.ndarray, n_intervals: int, horizon_quantile: float) -> np.ndarray:
    """0, then quantiles of the observed times to close up to the horizon quantile."""
    cuts = np.quantile(closed_days, np.linspace(0, horizon_quantile, n_intervals + 1)[1:])
    edges = np.unique(np.concatenate([[0.0], cuts]))
    if len(edges) < 2:  # every lead closed at day 0
        edges = np.array([0.0, 1.0])
    return edges


def _person_periods(days, closed, edges, max_rows, rng):
    """Rows (lead index, interval, closed-in-interval label, weight) for the hazard classifier.

    A lead is at risk in every interval it was open at the start of. An open (censored) lead observed
    for only part of its last interval counts for that part (actuarial exposure weight). With more
    rows than `max_rows`, open leads are subsampled and up-weighted so that the hazards stay unbiased.
    """
    starts, ends = edges[:-1], edges[1:]
    # Closed leads: intervals up to the one they closed in; open leads: every interval they entered.
    n_closed_in = np.searchsorted(ends, days, side="left") + 1
    n_entered = np.searchsorted(starts, days, side="left")
    counts = np.minimum(np.where(closed, n_closed_in, n_entered), len(starts))
    lead_weight = np.ones(len(days))
    if counts.sum() > max_rows:
        budget = max(max_rows - counts[closed].sum(), 1)
        keep_share = min(1.0, budget / max(counts[~closed].sum(), 1))
        counts = np.where((~closed) & (rng.random(len(days)) > keep_share), 0, counts)
        lead_weight = np.where(closed, 1.0, 1.0 / keep_share)
    rows = np.repeat(np.arange(len(days)), counts)
    interval = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    last = interval == counts[rows] - 1
    label = (closed[rows] & last).astype(np.float64)
    observed = np.clip((days[rows] - starts[interval]) / (ends[interval] - starts[interval]), 0.0, 1.0)
    exposure = np.where(last & ~closed[rows], observed, 1.0)
    return rows, interval.astype(np.float64), label, lead_weight[rows] * exposure
