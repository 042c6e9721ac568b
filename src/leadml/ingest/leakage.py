"""Columns of an export that predict its outcome almost perfectly: a sign they were filled in after
the outcome was known (a sales rep's tag such as "Closed by Horizzon"), so a model trained on them
looks excellent on the export and is useless on a new lead, where the column is still empty.

The check runs on the rows of a leads import that carry a converted or lost outcome. A column is
reported when, on its own,
- it separates converted from lost with a ROC AUC above `AUC_LIMIT` (numbers by their value, text
  by the conversion rate of its level; levels with fewer than `MIN_LEVEL_ROWS` rows are pooled, and
  "missing" is a level, since when a field is filled in can leak too), or
- its near-certain levels (at least `PURITY` of one outcome, beyond ten times the base rate's odds)
  hold at least `COVERAGE` of all converted or of all lost leads.
Identifier-like columns (every value different) are not checked: they are never features.
It is a warning, not a verdict: the importer still stores the column, and `leadml evaluate
--exclude COLUMN` shows what the model is worth without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from leadml.predict.metrics import roc_auc

AUC_LIMIT = 0.95
PURITY = 0.97
COVERAGE = 0.25
MIN_LEVEL_ROWS = 30
MIN_ROWS = 50
MISSING = "(missing)"


def near_perfect_predictors(columns: Mapping[str, Sequence[Any]], converted: Sequence[int]) -> list[dict[str, Any]]:
    """[{column, auc, reason}] for the columns that give the outcome away (see the module docstring)."""
    y = np.asarray(converted, dtype=np.int64)
    positives = int(y.sum())
    negatives = len(y) - positives
    if len(y) < MIN_ROWS or positives == 0 or negatives == 0:
        return []
    base = positives / len(y)
    found = []
    for name, values in columns.items():
        series = pd.Series(list(values), dtype=object)
        present = series.notna().to_numpy()
        if present.sum() < MIN_ROWS:
            continue
        numbers = pd.to_numeric(series.where(series.map(lambda v: not isinstance(v, bool | str))), errors="coerce")
        if bool((numbers.notna().to_numpy() == present).all()):
            auc = roc_auc(y[present], numbers[present].to_numpy(dtype=np.float64))
            auc = max(auc, 1 - auc)
            if auc > AUC_LIMIT:
                found.append({"column": name, "auc": round(auc, 4),
                              "reason": f"on its own it separates converted from lost leads with AUC {auc:.3f}"})
            continue
        levels = series.map(lambda v: MISSING if v is None or v != v else str(v))
        if levels[present].nunique() == int(present.sum()):
            continue  # an identifier
        finding = _categorical(name, levels, y, base, positives, negatives)
        if finding is not None:
            found.append(finding)
    return found


def _categorical(name: str, levels: pd.Series, y: np.ndarray, base: float, positives: int,
                 negatives: int) -> dict[str, Any] | None:
    stats = pd.DataFrame({"level": levels, "y": y}).groupby("level")["y"].agg(["mean", "size", "sum"])
    common = stats[stats["size"] >= MIN_LEVEL_ROWS]
    rate = levels.map(common["mean"]).fillna(float(stats.loc[~stats.index.isin(common.index), "sum"].sum())
                                             / max(int(stats.loc[~stats.index.isin(common.index), "size"].sum()), 1))
    auc = roc_auc(y, rate.to_numpy(dtype=np.float64))
    auc = max(auc, 1 - auc)
    high, low = max(PURITY, 1 - (1 - base) / 10), min(1 - PURITY, base / 10)
    sure_yes, sure_no = common[common["mean"] >= high], common[common["mean"] <= low]
    yes_share = float(sure_yes["sum"].sum()) / positives
    no_share = float((sure_no["size"] - sure_no["sum"]).sum()) / negatives
    if auc <= AUC_LIMIT and yes_share < COVERAGE and no_share < COVERAGE:
        return None
    examples = pd.concat([sure_yes, sure_no]).sort_values("size", ascending=False).head(3)
    shown = ", ".join(f"{level!r} {row['mean']:.0%} converted ({int(row['size'])} leads)"
                      for level, row in examples.iterrows())
    if auc > AUC_LIMIT:
        reason = f"on its own it separates converted from lost leads with AUC {auc:.3f}"
    else:
        reason = (f"levels that are almost always one outcome hold {yes_share:.0%} of the converted and "
                  f"{no_share:.0%} of the lost leads")
    return {"column": name, "auc": round(auc, 4), "reason": reason + (f": {shown}" if shown else "")}
