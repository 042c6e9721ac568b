"""Exact per-lead explanations: contributions, categories and top reasons.

Two parts:
- `TreeTables`: exact TreeSHAP for a LightGBM booster of shallow trees, precomputed per tree so that
  explaining a million leads is a few array operations per tree (see the class docstring).
- Grouping contributions into the categories of SPEC section 4 and picking top positive / negative
  reasons, for one lead (`top_reasons`) or vectorized for bulk scoring (`top_k`).

All contributions are on the log-odds scale: positive raises the probability.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from leadml.predict.flat_trees import MAX_ROWS as FLAT_MAX_ROWS
from leadml.predict.flat_trees import FlatTrees
from leadml.predict.result import Reason

CATEGORIES = ("demographic", "behavioral", "temporal", "engagement", "custom")


class TreeTables:
    """A LightGBM booster with shallow trees, compiled for exact TreeSHAP by table lookup.

    A tree with m splits sends a lead through m yes/no decisions; its TreeSHAP values depend only on
    that pattern of decisions (at most 2^m of them). For each tree we compute, once, the exact Shapley
    values of every pattern (the path-dependent value function that LightGBM's `pred_contrib` uses:
    a feature outside the coalition averages both branches by training cover). Explaining a lead is
    then m comparisons and one table row per tree: the same numbers as `pred_contrib=True` (checked in
    the tests), about ten times faster on depth-3 trees. A booster with deeper trees (more than 7
    splits) falls back to LightGBM's `pred_contrib`.

    Small batches (one API call's lead and its what-ifs) go through `flat`, the same tables laid out
    as flat arrays (flat_trees.py): the same numbers without a Python loop over the trees. It is
    built once per loaded model (`compile()`), never pickled.
    """

    def __init__(self, booster: Any, num_iteration: int | None = None):
        model = booster.dump_model(num_iteration=num_iteration)
        self.n_features = int(model["max_feature_idx"]) + 1
        self.base_value = 0.0
        self.constant = 0.0  # trees without a split
        self.trees: list[_CompiledTree] = []
        self.fallback = None  # deeper trees: LightGBM's own (slower) TreeSHAP
        for info in model["tree_info"]:
            if _count_splits(info["tree_structure"]) > MAX_SPLITS:
                self.fallback, self.num_iteration, self.trees = booster, num_iteration, []
                return
            tree = _compile(info["tree_structure"])
            self.base_value += tree.expected
            if tree.splits:
                self.trees.append(tree)
            else:
                self.constant += tree.expected

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_flat", None)  # rebuilt on load: artifacts stay as they were
        return state

    @property
    def flat(self) -> FlatTrees | None:
        """The flat layout for small batches (None when the booster fell back to LightGBM)."""
        flat = self.__dict__.get("_flat")
        if flat is None and self.fallback is None:
            flat = self._flat = FlatTrees(self.trees, self.n_features)
        return flat

    def compile(self) -> TreeTables:
        """Build the small-batch layout now (when a model version is loaded), not on its first lead."""
        _ = self.flat
        return self

    def raw_score(self, matrix: np.ndarray, booster_trees: int) -> np.ndarray | None:
        """The booster's raw score added tree by tree in booster order, as LightGBM adds it.

        None when that order is not known here (the booster, of `booster_trees` trees, has trees
        without a split: they are folded into `constant`) or for a large batch, where LightGBM's own
        predict is the faster route to the same numbers.
        """
        matrix = np.asarray(matrix, dtype=np.float64)
        if self.fallback is not None or len(self.trees) != booster_trees or len(matrix) > FLAT_MAX_ROWS:
            return None
        return self.flat.raw(matrix)

    def contributions(self, matrix: np.ndarray, threads: int | None = None) -> tuple[float, np.ndarray]:
        """(base value, n_rows x n_features); base + row sum = the booster's raw log-odds.

        Chunks of rows run on `threads` threads (default: the CPU count); numpy releases the GIL.
        """
        matrix = np.asarray(matrix, dtype=np.float64)
        if self.fallback is None and len(matrix) <= FLAT_MAX_ROWS:
            return self.base_value, self.flat.contributions(matrix)
        if self.fallback is not None:
            contrib = self.fallback.predict(matrix, pred_contrib=True, num_iteration=self.num_iteration)
            base = contrib[0, -1] if len(contrib) else self.fallback.predict(
                np.full((1, matrix.shape[1]), np.nan), pred_contrib=True, num_iteration=self.num_iteration)[0, -1]
            return float(base), contrib[:, :-1]
        out = np.zeros((self.n_features, len(matrix)))  # one contiguous row per feature: fast adds
        starts = range(0, len(matrix), CHUNK_ROWS)  # chunks keep the columns in cache
        workers = min(threads or os.cpu_count() or 1, len(starts))
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(lambda start: self._chunk(matrix, out, start), starts))
        else:
            for start in starts:
                self._chunk(matrix, out, start)
        return self.base_value, out.T

    def raw_grid(self, matrix: np.ndarray, feature: int, grid: np.ndarray) -> np.ndarray:
        """n_rows x len(grid): raw scores with column `feature` set to each grid value in turn.

        The decisions on the other columns are made once per row and reused for every grid value,
        which makes this much cheaper than scoring len(grid) copies of the matrix (the time-to-close
        model scores every lead at every time interval this way).
        """
        matrix = np.asarray(matrix, dtype=np.float64)
        grid = np.asarray(grid, dtype=np.float64)
        if self.fallback is None and len(matrix) <= FLAT_MAX_ROWS:
            return self.flat.raw_grid(matrix, feature, grid, self.constant)
        if self.fallback is not None:
            expanded = np.repeat(matrix, len(grid), axis=0)
            expanded[:, feature] = np.tile(grid, len(matrix))
            raw = self.fallback.predict(expanded, raw_score=True, num_iteration=self.num_iteration)
            return raw.reshape(len(matrix), len(grid))
        out = np.full((len(grid), len(matrix)), self.constant)
        for start in range(0, len(matrix), CHUNK_ROWS):
            block = matrix[start : start + CHUNK_ROWS]
            columns = [_Column(block[:, f]) for f in range(block.shape[1])]
            grid_columns = [_Column(np.array([value])) for value in grid]
            pattern = np.empty(len(block), dtype=np.uint8)
            for tree in self.trees:
                pattern[:] = 0
                grid_bits = np.zeros(len(grid), dtype=np.uint8)
                for bit, split in enumerate(tree.splits):
                    if split.feature == feature:
                        grid_bits |= np.array([split.goes_left(c)[0] for c in grid_columns], dtype=np.uint8) << bit
                    else:
                        pattern |= split.goes_left(columns[split.feature]).view(np.uint8) << bit
                for g, bits in enumerate(grid_bits):
                    out[g, start : start + CHUNK_ROWS] += tree.output[pattern | bits]
        return out.T

    def _chunk(self, matrix: np.ndarray, out: np.ndarray, start: int) -> None:
        block = matrix[start : start + CHUNK_ROWS]
        columns = [_Column(block[:, f]) for f in range(block.shape[1])]
        target = out[:, start : start + CHUNK_ROWS]
        pattern = np.empty(len(block), dtype=np.uint8)
        for tree in self.trees:
            pattern[:] = 0
            for bit, split in enumerate(tree.splits):
                pattern |= split.goes_left(columns[split.feature]).view(np.uint8) << bit
            for k, feature in enumerate(tree.features):
                target[feature] += tree.table[:, k][pattern]


class _Column:
    """One feature of a chunk, with its missing mask and integer codes computed once."""

    def __init__(self, values: np.ndarray):
        self.values = np.ascontiguousarray(values)
        self._missing: np.ndarray | None = None
        self._codes: np.ndarray | None = None

    @property
    def missing(self) -> np.ndarray:
        if self._missing is None:
            self._missing = np.isnan(self.values)
        return self._missing

    @property
    def codes(self) -> np.ndarray:
        if self._codes is None:
            self._codes = np.where(self.missing, -1, self.values).astype(np.int64)
        return self._codes


CHUNK_ROWS = 65536
MAX_SPLITS = 7  # a depth-3 tree: 128 decision patterns at most


class _Split:
    def __init__(self, node: Mapping[str, Any]):
        self.feature = int(node["split_feature"])
        self.categorical = node["decision_type"] == "=="
        kind = node.get("missing_type", "None")
        if kind not in ("None", "NaN"):
            raise ValueError(f"Unsupported missing_type {kind!r} (zero_as_missing is not used by leadml).")
        if self.categorical:
            members = [int(v) for v in str(node["threshold"]).split("||")]
            self.lookup = np.zeros(max(members) + 2, dtype=bool)  # last slot: codes past every member
            self.lookup[members] = True
            self.nan_goes_left = False if kind == "NaN" else bool(self.lookup[0])  # else read as category 0
        else:
            self.threshold = float(node["threshold"])
            # LightGBM reads a missing value as 0 when training saw none ("None").
            self.nan_goes_left = bool(node["default_left"]) if kind == "NaN" else 0.0 <= self.threshold

    def goes_left(self, column: _Column) -> np.ndarray:
        if self.categorical:
            codes = column.codes  # -1 = missing or negative: LightGBM sends those right
            left = self.lookup[np.clip(codes, -1, len(self.lookup) - 1)]  # index -1 = the last slot, False
            if self.nan_goes_left and column.missing.any():
                left = left | column.missing
            return left
        left = column.values <= self.threshold  # NaN compares False: right
        if self.nan_goes_left and column.missing.any():
            left = left | column.missing
        return left


class _CompiledTree:
    def __init__(self, splits: list[_Split], features: list[int], table: np.ndarray, expected: float,
                 output: np.ndarray):
        self.splits, self.features, self.table, self.expected = splits, features, table, expected
        self.output = output  # the tree's value for each decision pattern


def _count_splits(node: Mapping[str, Any]) -> int:
    if "leaf_value" in node:
        return 0
    return 1 + _count_splits(node["left_child"]) + _count_splits(node["right_child"])


def _compile(root: Mapping[str, Any]) -> _CompiledTree:
    splits: list[_Split] = []
    nodes: list[Mapping[str, Any]] = []

    def number(node: Mapping[str, Any]) -> None:
        if "leaf_value" not in node:
            splits.append(_Split(node))
            nodes.append(node)
            number(node["left_child"])
            number(node["right_child"])

    number(root)
    bit_of = {id(node): bit for bit, node in enumerate(nodes)}
    features = sorted({split.feature for split in splits})
    patterns = np.arange(2 ** len(splits))

    k = len(features)
    coalitions = np.arange(2**k)[:, None]  # rows: which features take the lead's own value

    def cover(node: Mapping[str, Any]) -> float:
        return float(node.get("leaf_count", node.get("internal_count", 1)))

    def value(node: Mapping[str, Any]) -> np.ndarray:
        """(coalitions x patterns) expected output of the subtree (path-dependent TreeSHAP)."""
        if "leaf_value" in node:
            return np.full((len(coalitions), len(patterns)), float(node["leaf_value"]))
        left, right = value(node["left_child"]), value(node["right_child"])
        bit, split = bit_of[id(node)], splits[bit_of[id(node)]]
        follow = np.where(patterns >> bit & 1, left, right)  # the lead's own value decides
        c_left, c_right = cover(node["left_child"]), cover(node["right_child"])
        average = (c_left * left + c_right * right) / (c_left + c_right)  # the feature is unknown
        return np.where(coalitions >> features.index(split.feature) & 1, follow, average)

    values = value(root)
    table = np.zeros((len(patterns), k))
    for i in range(k):
        for coalition in range(2**k):
            if not coalition >> i & 1:
                size = bin(coalition).count("1")
                weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
                table[:, i] += weight * (values[coalition | 1 << i] - values[coalition])
    return _CompiledTree(splits, features, table, float(values[0][0]), values[-1].copy())


# --- Categories and reasons ------------------------------------------------------------------


def category_totals(contributions: np.ndarray, features: Sequence[str],
                    category_of: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Sum of contributions per category (features without a known category count as custom).

    `contributions` is n_rows x n_features (or one row); the result maps each of the five
    categories to an array with one total per row.
    """
    matrix = np.atleast_2d(np.asarray(contributions, dtype=np.float64))
    totals = {category: np.zeros(len(matrix)) for category in CATEGORIES}
    for j, feature in enumerate(features):
        category = category_of.get(feature, "custom")
        totals[category if category in totals else "custom"] += matrix[:, j]
    return totals


def reason_text(feature: str, value: Any, contribution: float) -> str:
    """'Lead Source is Reference (raises the chance)' style text for a sales-ops reader."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        shown = "missing"
    elif isinstance(value, bool | np.bool_):
        shown = "yes" if value else "no"
    elif isinstance(value, float | np.floating):
        shown = f"{float(value):.2f}".rstrip("0").rstrip(".")
    else:
        shown = str(value)
    direction = "raises" if contribution > 0 else "lowers"
    return f"{feature} is {shown} ({direction} the chance of converting)"


def top_reasons(features: Sequence[str], values: Sequence[Any], contributions: Sequence[float],
                category_of: Mapping[str, str], k: int = 5) -> tuple[list[Reason], list[Reason]]:
    """The k strongest positive and k strongest negative reasons of one lead."""
    row = np.asarray(contributions, dtype=np.float64)
    order = np.argsort(-row, kind="stable")

    def reason(j: int) -> Reason:
        category = category_of.get(features[j], "custom")
        return Reason(feature=features[j], category=category if category in CATEGORIES else "custom",
                      value=values[j], contribution=float(row[j]),
                      text=reason_text(features[j], values[j], float(row[j])))

    positive = [reason(j) for j in order[:k] if row[j] > 0]
    negative = [reason(j) for j in order[::-1][:k] if row[j] < 0]
    return positive, negative


def top_k(contributions: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectorized top reasons for many leads.

    Returns (positive_index, positive_value, negative_index, negative_value), each n_rows x k,
    strongest first. Slots without a positive (negative) contribution have index -1 and value 0.
    """
    matrix = np.asarray(contributions, dtype=np.float64)
    n, width = matrix.shape
    k_eff = min(k, width)
    pos_idx, pos_val = _strongest(matrix, k_eff)
    neg_idx, neg_val = _strongest(-matrix, k_eff)
    neg_val = -neg_val
    pad = k - k_eff
    if pad:
        pos_idx, neg_idx = (np.pad(a, ((0, 0), (0, pad)), constant_values=-1) for a in (pos_idx, neg_idx))
        pos_val, neg_val = (np.pad(a, ((0, 0), (0, pad))) for a in (pos_val, neg_val))
    return pos_idx, pos_val, neg_idx, neg_val


def _strongest(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if k == 0:
        return np.zeros((len(matrix), 0), dtype=np.int64), np.zeros((len(matrix), 0))
    part = np.argpartition(-matrix, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(matrix, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    index = np.take_along_axis(part, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    keep = values > 0
    return np.where(keep, index, -1), np.where(keep, values, 0.0)
