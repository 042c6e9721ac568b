"""Custom lead attributes (a CRM's own fields) as features: typing and coercion.

An attribute is `numeric` when every value seen across leads is a number, a boolean or text that
reads as a number ("12", "3.5"); blank text counts as missing there. Anything else is
`categorical`, and then every value is text: "Select", "" and "Other" are categories like any other
(no data-set specific cleaning). Booleans are numeric 1.0 / 0.0 in a numeric attribute and
"true" / "false" in a categorical one.

The kinds are decided once across many leads (training data) and passed to both feature paths,
so a single lead scored later is coerced exactly as its training rows were.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import polars as pl

from leadml.features.inputs import ATTRIBUTE_PREFIX

AttributeKind = Literal["numeric", "categorical"]
NUMERIC: AttributeKind = "numeric"
CATEGORICAL: AttributeKind = "categorical"
# Output feature names for custom attributes: CUSTOM_PREFIX + attribute name.
CUSTOM_PREFIX = "custom."

NUMBER_TEXT_PATTERN = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_NUMBER_TEXT_RE = re.compile(NUMBER_TEXT_PATTERN)
_EXACT_INT_LIMIT = 2.0**53  # floats below this print as integers when integral ("3.0" -> "3")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _looks_numeric(value: Any) -> bool | None:
    """True/False for a value's evidence, None when the value says nothing (missing or blank)."""
    if _is_missing(value):
        return None
    if isinstance(value, bool | int | float):
        return True
    if isinstance(value, str):
        text = value.strip()
        return None if not text else bool(_NUMBER_TEXT_RE.match(text))
    return False


def _column_looks_numeric(values: Sequence[Any]) -> bool | None:
    """`_looks_numeric` folded over a column: False if any value says no, None if none says anything."""
    types = set(map(type, values))
    if types <= {bool, int, float, type(None)}:
        return True if any(not _is_missing(v) for v in values) else None
    if types <= {bool, int, float, str, type(None)}:
        texts = pl.Series([v for v in values if type(v) is str], dtype=pl.String).str.strip_chars()
        texts = texts.filter(texts != "")
        if not texts.str.contains(NUMBER_TEXT_PATTERN).all():
            return False
        others = any(type(v) is not str and not _is_missing(v) for v in values)
        return True if others or texts.len() else None
    verdict: bool | None = None
    for value in values:
        evidence = _looks_numeric(value)
        if evidence is False:
            return False
        verdict = verdict or evidence
    return verdict


class AttributeKindCounter:
    """Decides attribute kinds incrementally, so kinds can be inferred while streaming leads."""

    def __init__(self) -> None:
        self._numeric: dict[str, bool] = {}

    def observe(self, attributes: Mapping[str, Any]) -> None:
        for name, value in attributes.items():
            self._merge(name, _looks_numeric(value))

    def observe_column(self, name: str, values: Sequence[Any]) -> None:
        """Same as observing each value of one attribute, faster for long columns."""
        self._merge(name, _column_looks_numeric(values))

    def _merge(self, name: str, evidence: bool | None) -> None:
        if evidence is None:
            self._numeric.setdefault(name, True)
        elif self._numeric.get(name, True):
            self._numeric[name] = evidence

    def kinds(self) -> dict[str, AttributeKind]:
        return {name: NUMERIC if numeric else CATEGORICAL for name, numeric in sorted(self._numeric.items())}


def infer_attribute_kinds(rows: Iterable[Mapping[str, Any]]) -> dict[str, AttributeKind]:
    """Kinds of every attribute present in `rows` (one attributes mapping per lead).

    An attribute whose values are all missing is numeric (an all-null column).
    """
    counter = AttributeKindCounter()
    for attributes in rows:
        counter.observe(attributes)
    return counter.kinds()


def infer_attribute_kind(values: Iterable[Any]) -> AttributeKind:
    """The kind of one attribute from its values across leads."""
    return infer_attribute_kinds({"value": v} for v in values).get("value", NUMERIC)


def infer_frame_attribute_kinds(leads: pl.DataFrame) -> dict[str, AttributeKind]:
    """Kinds of the ATTRIBUTE_PREFIX columns of a lead frame, by the same rule as for values."""
    kinds: dict[str, AttributeKind] = {}
    for column in attribute_columns(leads):
        dtype = leads.schema[column]
        name = column[len(ATTRIBUTE_PREFIX) :]
        if dtype.is_numeric() or dtype == pl.Boolean or dtype == pl.Null:
            kinds[name] = NUMERIC
        elif dtype == pl.String:
            text = leads.get_column(column).str.strip_chars()
            text = text.filter(text.is_not_null() & (text != ""))
            kinds[name] = NUMERIC if text.str.contains(NUMBER_TEXT_PATTERN).all() else CATEGORICAL
        else:
            kinds[name] = CATEGORICAL
    return kinds


def attribute_columns(leads: pl.DataFrame | pl.LazyFrame) -> list[str]:
    names = leads.collect_schema().names() if isinstance(leads, pl.LazyFrame) else leads.columns
    return [c for c in names if c.startswith(ATTRIBUTE_PREFIX)]


def natural_kind(value: Any) -> AttributeKind:
    """The kind of a single value when no kinds were decided across leads."""
    return NUMERIC if isinstance(value, bool | int | float) else CATEGORICAL


def coerce_attribute(value: Any, kind: AttributeKind) -> float | str | None:
    if _is_missing(value):
        return None
    if kind == NUMERIC:
        if isinstance(value, bool | int | float):
            return float(value)
        if isinstance(value, str) and _NUMBER_TEXT_RE.match(value.strip()):
            return float(value.strip())
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == math.floor(value) and abs(value) < _EXACT_INT_LIMIT:
            return str(int(value))
        return repr(value)
    return json.dumps(value, sort_keys=True, default=str)


def coerce_values(values: Sequence[Any], kind: AttributeKind) -> pl.Series:
    """`coerce_attribute` over a column of raw values, vectorized for the common uniform cases."""
    dtype = pl.Float64 if kind == NUMERIC else pl.String
    types = set(map(type, values))
    try:
        if kind == NUMERIC and types <= {int, float, type(None)}:
            return pl.Series(values, dtype=pl.Float64).fill_nan(None)
        if types <= {str, type(None)}:
            series = pl.Series("value", values, dtype=pl.String)
            if kind == CATEGORICAL:
                return series
            return series.to_frame().select(coerce_attribute_expr("value", pl.String(), NUMERIC)).to_series()
        if kind == CATEGORICAL and types <= {int, type(None)}:
            return pl.Series(values, dtype=pl.Int64).cast(pl.String)
    except (OverflowError, TypeError, pl.exceptions.PolarsError):
        pass  # e.g. integers beyond 64 bits: the per-value path below handles them
    return pl.Series([coerce_attribute(v, kind) for v in values], dtype=dtype)


def coerce_attribute_expr(column: str, dtype: pl.DataType, kind: AttributeKind) -> pl.Expr:
    """The polars twin of `coerce_attribute` for one ATTRIBUTE_PREFIX column of `dtype`."""
    col = pl.col(column)
    if kind == NUMERIC:
        if dtype.is_numeric() or dtype == pl.Boolean:
            return col.cast(pl.Float64).fill_nan(None)
        if dtype == pl.String:
            text = col.str.strip_chars()
            return pl.when(text.str.contains(NUMBER_TEXT_PATTERN)).then(text.cast(pl.Float64, strict=False))
        return pl.lit(None, dtype=pl.Float64)
    if dtype == pl.String:
        return col
    if dtype == pl.Boolean:
        return pl.when(col).then(pl.lit("true")).when(col.not_()).then(pl.lit("false"))
    if dtype.is_integer():
        return col.cast(pl.String)
    if dtype.is_float():
        value = col.cast(pl.Float64)
        integral = (value == value.floor()) & (value.abs() < _EXACT_INT_LIMIT)
        return (
            pl.when(value.is_nan())
            .then(pl.lit(None, dtype=pl.String))
            .when(integral)
            .then(value.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(value.cast(pl.String))
        )
    return col.cast(pl.String, strict=False)


# --- the employee-count attribute used by companySizeEstimate --------------------------------------

# Attribute names (compared lower-case without punctuation) that hold an employee count, in order
# of preference: employees, employee_count, employeeCount, company_size, numberOfEmployees ...
EMPLOYEE_COUNT_KEYS = (
    "employees",
    "employeecount",
    "numberofemployees",
    "numemployees",
    "noofemployees",
    "employeescount",
    "companyemployees",
    "headcount",
    "staffcount",
    "companysize",
    "employeesize",
    "employeerange",
    "sizeofcompany",
)


def normalize_key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def employee_count_attributes(names: Iterable[str]) -> list[str]:
    """Attribute names that hold an employee count, most preferred first."""
    rank = {key: i for i, key in enumerate(EMPLOYEE_COUNT_KEYS)}
    found = [n for n in names if normalize_key(n) in rank]
    return sorted(found, key=lambda n: (rank[normalize_key(n)], n))
