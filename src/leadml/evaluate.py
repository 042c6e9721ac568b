"""`leadml evaluate`: the quality protocol of BENCHMARKS.md, on any CSV of leads.

The same training code the service uses (`ConversionModel`, `TimeToCloseModel`) is fitted on the
file's columns, treated like custom attributes, next to three reference baselines on the same splits.
How the file is read (the same rules for every file; there is no dataset-specific code):

- Missing values: pandas' defaults (empty cells, "NA", ...) plus any `na_values`, for placeholders
  such as a web form's "Select" that mean "not answered". Without the option such a placeholder is
  simply one more category level, which carries the same information for the model (X Education
  scores the same AUC either way); the option matters for numeric columns and for readable reasons.
- Target: with `positive`, rows whose target equals it (as text) are the converted ones; otherwise
  the target must be 0/1 or true/false, or have two values one of which reads as yes (yes, true,
  won, converted, 1). Rows with an empty target are dropped.
- Identifier-like columns are dropped: text or whole-number columns whose values are all different
  (at least 20 of them, e.g. "Prospect ID", "Lead Number"). A value seen once says nothing about a new
  lead. Decimal columns are kept even when every value differs (amounts, scores). `exclude` drops
  more columns by name.
- Dates: a text column whose non-missing values (at least 95 %) look like dates (2018-02-01,
  01/02/2018, with or without a time) is replaced by "<column> weekday" and, when its values span at
  least two years, "<column> month". With less history, a month stands for the calendar period, not
  a season, and a model cannot carry it past the training period.
- Split: with `time_column`, rows are sorted by it and the oldest 80 % train the models, the newest
  20 % test them; otherwise stratified `folds`-fold cross-validation, with out-of-fold predictions
  for every row. The metrics are computed on the test / out-of-fold predictions.
- Time to close (with `start_column` and `close_column`): days = close - start (negative values are
  clipped to 0); a lead with an empty close is still open, censored at the latest date in those two
  columns (the export date). The close column is never a feature. Metrics on the test leads: the
  C-index over all of them (open ones censored), ranked by the model's expected days open; MAE in
  days and the coverage of the 80 % interval over those that closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from leadml.predict import metrics
from leadml.predict.baselines import BASELINES
from leadml.predict.model import ConversionModel
from leadml.predict.survival import TimeToCloseModel, survival_target

YES_WORDS = {"1", "1.0", "true", "yes", "y", "won", "converted"}
DATE_PATTERN = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})([ T]\d{1,2}:\d{2}(:\d{2})?.*)?\s*$"
)
MIN_ID_VALUES = 20
TEST_SHARE = 0.2


class InputError(ValueError):
    """The file or the options cannot be evaluated as given; the message says why and what to change."""


@dataclass
class Prepared:
    X: pd.DataFrame
    y: np.ndarray
    order_by: np.ndarray | None = None  # the time column (sortable), when given
    days: np.ndarray | None = None  # time to close or time open so far, when start/close given
    closed: np.ndarray | None = None
    dropped: dict[str, str] = field(default_factory=dict)


def load_table(path: str | Path, *, sep: str = ",", na_values: Any = ()) -> pd.DataFrame:
    return pd.read_csv(path, sep=sep, na_values=list(na_values) or None, low_memory=False)


def conversion_labels(values: pd.Series, positive: str | None = None) -> np.ndarray:
    """1.0 converted, 0.0 not, NaN unknown (see the module docstring for the rules)."""
    known = values.notna()
    text = values.astype(str).str.strip()
    if positive is not None:
        labels = (text == str(positive)).astype(np.float64)
    else:
        levels = sorted(text[known].str.lower().unique())
        yes = [level for level in levels if level in YES_WORDS]
        if len(levels) != 2 or len(yes) != 1:
            raise InputError(
                f"Target {values.name!r} has values {levels[:10]}; pass --positive VALUE to say which means converted."
            )
        labels = (text.str.lower() == yes[0]).astype(np.float64)
    return labels.where(known).to_numpy(dtype=np.float64)


def identifier_columns(frame: pd.DataFrame) -> list[str]:
    found = []
    for column in frame.columns:
        values = frame[column].dropna()
        whole = pd.api.types.is_integer_dtype(values.dtype) or (
            pd.api.types.is_float_dtype(values.dtype) and bool(np.all(np.mod(values, 1) == 0))
        )
        textual = values.dtype == object or pd.api.types.is_string_dtype(values.dtype)
        if (whole or textual) and len(values) >= MIN_ID_VALUES and values.nunique() == len(values):
            found.append(column)
    return found


def parse_dates(values: pd.Series) -> pd.Series | None:
    """The column as datetimes when it holds dates (see the module docstring), else None."""
    if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
        return None
    present = values.dropna().astype(str)
    if present.empty or present.str.match(DATE_PATTERN).mean() < 0.95:
        return None
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    return parsed if parsed.notna().sum() >= 0.95 * len(present) else None


def derive_date_parts(frame: pd.DataFrame, dates: dict[str, pd.Series], *,
                      min_years_for_month: float = 2.0) -> pd.DataFrame:
    """Replace each date column by its weekday (and month, with enough history)."""
    out = frame.drop(columns=list(dates))
    for column, parsed in dates.items():
        out[f"{column} weekday"] = parsed.dt.day_name()
        span_days = (parsed.max() - parsed.min()).days if parsed.notna().any() else 0
        if span_days >= 365.25 * min_years_for_month:
            out[f"{column} month"] = parsed.dt.month_name()
    return out


def prepare(frame: pd.DataFrame, *, target: str, positive: str | None = None, exclude: Any = (),
            time_column: str | None = None, start_column: str | None = None, close_column: str | None = None,
            min_years_for_month: float = 2.0) -> Prepared:
    for name in [target, time_column, start_column, close_column, *exclude]:
        if name is not None and name not in frame.columns:
            raise InputError(f"Column {name!r} is not in the file (columns: {', '.join(map(str, frame.columns))}).")
    labels = conversion_labels(frame[target], positive)
    keep = ~np.isnan(labels)
    dates = {c: d for c in frame.columns if c != target and (d := parse_dates(frame[c])) is not None}
    order_by = None
    if time_column is not None:
        order_by = dates[time_column] if time_column in dates else pd.to_numeric(frame[time_column], errors="coerce")
        keep &= order_by.notna().to_numpy()
    frame, labels = frame[keep].reset_index(drop=True), labels[keep]
    dates = {c: d[keep].reset_index(drop=True) for c, d in dates.items()}
    dropped = {c: "excluded" for c in exclude}
    dropped.update({c: "outcome" for c in (target, close_column) if c is not None})
    candidates = frame.drop(columns=[c for c in frame.columns if c in dropped or c in dates])
    dropped.update({c: "identifier" for c in identifier_columns(candidates)})
    features = frame.drop(columns=list(dropped))
    prepared = Prepared(
        X=derive_date_parts(features, {c: d for c, d in dates.items() if c in features.columns},
                            min_years_for_month=min_years_for_month),
        y=labels, dropped=dropped,
        order_by=None if order_by is None else order_by[keep].reset_index(drop=True).to_numpy(),
    )
    if start_column is not None and close_column is not None:
        start = dates.get(start_column, pd.to_datetime(frame[start_column], errors="coerce"))
        close = dates.get(close_column, pd.to_datetime(frame[close_column], errors="coerce"))
        as_of = max(start.max(), close.max())
        end = close.where(close.notna(), as_of)
        prepared.days = ((end - start).dt.total_seconds() / 86400.0).clip(lower=0).to_numpy()
        prepared.closed = close.notna().to_numpy()
    return prepared


def split_rows(y: np.ndarray, order_by: np.ndarray | None, folds: int, seed: int):
    """[(train, test)] index pairs and a description of the split."""
    if order_by is not None:
        order = np.argsort(order_by, kind="stable")
        cut = int(round(len(order) * (1 - TEST_SHARE)))
        return [(order[:cut], order[cut:])], {"kind": "time", "train_rows": cut, "test_rows": len(order) - cut}
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y)), {"kind": "stratified_kfold", "folds": folds}


def evaluate_frame(frame: pd.DataFrame, *, target: str, positive: str | None = None, exclude: Any = (),
                   time_column: str | None = None, start_column: str | None = None,
                   close_column: str | None = None, folds: int = 5, seed: int = 0,
                   baselines: bool = True, model_params: dict[str, Any] | None = None,
                   min_years_for_month: float = 2.0) -> dict[str, Any]:
    data = prepare(frame, target=target, positive=positive, exclude=exclude, time_column=time_column,
                   start_column=start_column, close_column=close_column, min_years_for_month=min_years_for_month)
    _check_classes(data, target=target, folds=folds, time_split=time_column is not None)
    splits, split_info = split_rows(data.y, data.order_by, folds, seed)
    if time_column is not None:
        split_info["column"] = time_column
    tested = np.concatenate([test for _train, test in splits])
    names = ["model", *(BASELINES if baselines else [])]
    predictions = {name: np.full(len(data.y), np.nan) for name in names}
    fitted: list[ConversionModel] = []
    for train, test in splits:
        X_train, X_test = data.X.iloc[train], data.X.iloc[test]
        model = ConversionModel(**{"random_state": seed, **(model_params or {})}).fit(X_train, data.y[train])
        fitted.append(model)
        predictions["model"][test] = model.predict_proba(X_test)[:, 1]
        for name in names[1:]:
            predictions[name][test] = BASELINES[name](seed).fit(X_train, data.y[train]).predict_proba(X_test)[:, 1]
    y_test = data.y[tested]
    # Per split: the spread across folds says how far one 20 % hold-out may fall from the pooled figure.
    split_info["auc"] = [metrics.roc_auc(data.y[test], predictions["model"][test]) for _train, test in splits]
    report: dict[str, Any] = {
        "rows": int(len(data.y)),
        "positives": int(data.y.sum()),
        "split": split_info,
        "conversion": metrics.conversion_report(y_test, predictions["model"][tested]),
        "baselines": {name: metrics.conversion_report(y_test, predictions[name][tested]) for name in names[1:]},
        "features": list(data.X.columns),
        "dropped_columns": data.dropped,
        "model": {"family": "LightGBM depth-3 trees + ridge logistic blend, isotonic calibration",
                  "max_depth": fitted[0].max_depth,
                  "trees": [m.n_trees_ for m in fitted], "linear_weight": [m.blend_weight_ for m in fitted]},
        "calibration_curve": {name: metrics.calibration_curve(y_test, predictions[name][tested]) for name in names},
    }
    if data.days is not None:
        report["time_to_close"] = _time_to_close(data, splits, seed)
    return report


def _check_classes(data: Prepared, *, target: str, folds: int, time_split: bool) -> None:
    positives, negatives = int(data.y.sum()), int(len(data.y) - data.y.sum())
    found = f"Target {target!r} has {positives} converted and {negatives} not converted rows"
    if time_split:
        order = np.argsort(data.order_by, kind="stable")
        cut = int(round(len(order) * (1 - TEST_SHARE)))
        for part, rows in (("oldest 80 % (training)", order[:cut]), ("newest 20 % (test)", order[cut:])):
            if len(np.unique(data.y[rows])) < 2:
                raise InputError(f"{found}; the {part} holds only one of them, so the time split cannot be "
                                 "evaluated: drop --time-column for cross-validation, or check --positive.")
    elif min(positives, negatives) < folds:
        raise InputError(f"{found}; {folds}-fold cross-validation needs at least {folds} of each: lower --folds, "
                         "or check --positive (which value means converted).")


def _time_to_close(data: Prepared, splits, seed: int) -> dict[str, Any]:
    known = ~np.isnan(data.days)
    ranking, median, low, high = (np.full(len(data.days), np.nan) for _ in range(4))
    for train, test in splits:
        train, test = train[known[train]], test[known[test]]
        target = survival_target(data.closed[train], data.days[train])
        model = TimeToCloseModel(random_state=seed).fit(data.X.iloc[train], target)
        ranking[test] = model.expected_days_open(data.X.iloc[test])
        median[test], low[test], high[test] = model.predict_interval(data.X.iloc[test])
    tested = np.concatenate([test[known[test]] for _train, test in splits])
    closed = tested[data.closed[tested]]
    return {
        "c_index": metrics.c_index(data.days[tested], ranking[tested], data.closed[tested]),
        "mae_days": metrics.mae_days(data.days[closed], median[closed]),
        "interval_coverage": metrics.interval_coverage(data.days[closed], low[closed], high[closed]),
        "test_leads": int(len(tested)),
        "test_closed": int(len(closed)),
    }


def evaluate_file(path: str | Path, *, target: str, positive: str | None = None, sep: str = ",", exclude: Any = (),
                  time_column: str | None = None, start_column: str | None = None, close_column: str | None = None,
                  na_values: Any = (), folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Run the protocol on a CSV file; see the module docstring. Returns the report dict."""
    frame = load_table(path, sep=sep, na_values=na_values)
    return evaluate_frame(frame, target=target, positive=positive, exclude=exclude, time_column=time_column,
                          start_column=start_column, close_column=close_column, folds=folds, seed=seed)


def calibration_plot(report: dict[str, Any], path: str | Path) -> Path:
    """Reliability diagram (predicted vs observed conversion per probability bin) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 6))
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    for name, curve in report["calibration_curve"].items():
        label = "leadml model" if name == "model" else name.replace("_", " ")
        axis.plot([p["predicted"] for p in curve], [p["observed"] for p in curve], marker="o",
                  linewidth=2.5 if name == "model" else 1, label=f"{label}")
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted conversion probability", ylabel="observed conversion rate",
             title=f"Calibration (ECE {report['conversion']['ece']:.3f}, AUC {report['conversion']['auc']:.3f})")
    axis.legend(loc="upper left")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
