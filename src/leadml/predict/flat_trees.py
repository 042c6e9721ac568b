"""A compiled forest laid out as flat arrays, for scoring and explaining a handful of leads at once.

`explain.TreeTables` walks its trees one by one, a few NumPy operations per tree: right for a million
leads (each operation covers a whole chunk of rows), but for the one lead of an API call that is a
Python loop of thousands of tiny operations. `FlatTrees` lays every split of every tree side by side
instead, so that one lead (or a few what-if variants of it) costs a fixed dozen array operations:

1. every split's decision for every row at once (numeric thresholds and categorical member lookups,
   with LightGBM's missing-value rules, exactly as `explain._Split.goes_left` makes them);
2. each tree's decision pattern, summed from the bits of its splits;
3. one gather from the concatenated per-pattern tables: tree outputs, or TreeSHAP rows.

Sums keep the order of the per-tree loop (`np.bincount` and `np.cumsum` add sequentially), so every
result is bit-for-bit the number the per-tree code gives; the tests compare them. Memory grows with
rows x splits, so callers use this for small batches only (`MAX_ROWS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_ROWS = 256
SLOTS = 8  # splits per tree at most (depth-3 trees have 7): one byte of pattern bits


class FlatTrees:
    def __init__(self, trees: Sequence[Any], n_features: int):
        """`trees`: explain._CompiledTree objects with at least one split, in booster order."""
        self.n_features = n_features
        self.n_trees = len(trees)
        split_tree: list[int] = []
        split_bit: list[int] = []
        split_feature, categorical = [], []
        thresholds, nan_left, lookup_start, lookup_last, lookups = [], [], [], [], []
        entry_tree, entry_feature, entry_col = [], [], []
        table_base, output_base, tables, outputs = [], [], [], []
        lookup_size = table_size = output_size = 0
        for t, tree in enumerate(trees):
            for bit, split in enumerate(tree.splits):
                split_tree.append(t)
                split_bit.append(bit)
                split_feature.append(split.feature)
                categorical.append(split.categorical)
                nan_left.append(split.nan_goes_left)
                if split.categorical:
                    thresholds.append(np.nan)
                    lookup_start.append(lookup_size)
                    lookup_last.append(len(split.lookup) - 1)
                    lookups.append(split.lookup)
                    lookup_size += len(split.lookup)
                else:
                    thresholds.append(split.threshold)
                    lookup_start.append(0)
                    lookup_last.append(0)
            for col, feature in enumerate(tree.features):
                entry_tree.append(t)
                entry_feature.append(feature)
                entry_col.append(col)
            table_base.append(table_size)
            tables.append(np.ascontiguousarray(tree.table).ravel())
            table_size += tree.table.size
            output_base.append(output_size)
            outputs.append(tree.output)
            output_size += len(tree.output)
        if split_bit and max(split_bit) >= SLOTS:
            raise ValueError(f"FlatTrees takes trees of at most {SLOTS} splits")
        # Split i of tree t decides bit i of the tree's pattern: slot t * SLOTS + i of `left`.
        slot = np.asarray(split_tree, dtype=np.int64) * SLOTS + np.asarray(split_bit, dtype=np.int64)
        self.split_feature = np.full(self.n_trees * SLOTS, -1, dtype=np.int64)
        self.split_feature[slot] = split_feature
        categorical = np.asarray(categorical, dtype=bool)
        self.numeric = slot[~categorical]
        self.categorical = slot[categorical]
        self.numeric_feature = self.split_feature[self.numeric]
        self.threshold = np.asarray(thresholds, dtype=np.float64)[~categorical, None]
        self.numeric_nan_left = np.asarray(nan_left, dtype=bool)[~categorical, None]
        self.categorical_feature = self.split_feature[self.categorical]
        self.lookup_start = np.asarray(lookup_start, dtype=np.int64)[categorical, None]
        self.lookup_last = np.asarray(lookup_last, dtype=np.int64)[categorical, None]
        self.categorical_nan_left = np.asarray(nan_left, dtype=bool)[categorical, None]
        self.lookup = np.concatenate(lookups) if lookups else np.zeros(0, dtype=bool)
        self.entry_tree = np.asarray(entry_tree, dtype=np.int64)
        self.entry_feature = np.asarray(entry_feature, dtype=np.int64)
        widths = np.array([len(tree.features) for tree in trees], dtype=np.int64)
        self.entry_col = np.asarray(entry_col, dtype=np.int64)[:, None]
        self.entry_width = widths[self.entry_tree][:, None]
        self.entry_base = np.asarray(table_base, dtype=np.int64)[self.entry_tree][:, None]
        self.table = np.concatenate(tables) if tables else np.zeros(0)
        self.output_base = np.asarray(output_base, dtype=np.int64)[:, None]
        self.output = np.concatenate(outputs) if outputs else np.zeros(0)
        self._grid_bits: dict[tuple[int, bytes], np.ndarray] = {}

    # --- decisions (splits x rows: gathers along the first axis read contiguous rows) -------------

    def left(self, matrix: np.ndarray) -> np.ndarray:
        """slots x rows: does each split send each row left? (Slots without a split: False.)"""
        columns = np.ascontiguousarray(np.asarray(matrix, dtype=np.float64).T)
        left = np.zeros((len(self.split_feature), len(matrix)), dtype=bool)
        values = columns.take(self.numeric_feature, axis=0)
        numeric_left = values <= self.threshold  # NaN compares False: right
        numeric_left |= np.isnan(values) & self.numeric_nan_left
        left[self.numeric] = numeric_left
        if len(self.categorical):
            values = columns.take(self.categorical_feature, axis=0)
            missing = np.isnan(values)
            with np.errstate(invalid="ignore"):
                codes = np.where(missing, -1, values).astype(np.int64)
            # Negative codes (and missing) read the last slot, which is never a member.
            slot = np.where(codes < 0, self.lookup_last, np.minimum(codes, self.lookup_last))
            categorical_left = self.lookup[self.lookup_start + slot]
            categorical_left |= missing & self.categorical_nan_left
            left[self.categorical] = categorical_left
        return left

    def patterns(self, left: np.ndarray) -> np.ndarray:
        """trees x rows: each tree's decision pattern (bit i = its i-th split went left)."""
        packed = np.packbits(left.reshape(self.n_trees, SLOTS, left.shape[1]), axis=1, bitorder="little")
        return packed[:, 0, :].astype(np.int64)

    # --- results -------------------------------------------------------------------------------

    def raw(self, matrix: np.ndarray, start: float | None = None) -> np.ndarray:
        """Per row: `start` + every tree's output, added tree by tree (LightGBM's raw score when
        `start` is None: it sums from the first tree)."""
        values = self.output[self.output_base + self.patterns(self.left(matrix))]  # trees x rows
        if start is not None:
            values = np.vstack([np.full((1, values.shape[1]), start), values])
        if len(values) == 0:
            return np.zeros(values.shape[1])
        return np.cumsum(values, axis=0)[-1]

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """rows x features: TreeSHAP values, added tree by tree as `TreeTables.contributions` does."""
        patterns = self.patterns(self.left(matrix))
        index = self.entry_base + patterns[self.entry_tree] * self.entry_width + self.entry_col  # entries x rows
        values = self.table[index]
        out = np.empty((len(matrix), self.n_features))
        for r in range(len(matrix)):
            out[r] = np.bincount(self.entry_feature, weights=values[:, r], minlength=self.n_features)
        return out

    def raw_grid(self, matrix: np.ndarray, feature: int, grid: np.ndarray, start: float) -> np.ndarray:
        """rows x len(grid): `start` + the trees' outputs with column `feature` set to each grid value."""
        grid_bits = self._bits_for_grid(feature, grid)  # trees x grid
        left = self.left(matrix)
        left[self.split_feature == feature] = False  # those bits come from the grid
        patterns = self.patterns(left)[:, :, None] | grid_bits[:, None, :]  # trees x rows x grid
        values = self.output[self.output_base[:, :, None] + patterns]
        values = np.concatenate([np.full((1,) + values.shape[1:], start), values], axis=0)
        return np.cumsum(values, axis=0)[-1]

    def _bits_for_grid(self, feature: int, grid: np.ndarray) -> np.ndarray:
        key = (feature, np.asarray(grid, dtype=np.float64).tobytes())
        bits = self._grid_bits.get(key)
        if bits is None:
            probe = np.zeros((len(grid), self.n_features))
            probe[:, feature] = grid
            on_feature = self.split_feature == feature
            bits = self.patterns(self.left(probe) & on_feature[:, None])
            self._grid_bits[key] = bits
        return bits
