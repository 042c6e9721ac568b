"""One definition, two evaluations: formulas written once against an `ops` object.

A formula such as the recency score is a plain Python function of its inputs and `ops`. Called with
`SCALAR` and Python numbers it scores one lead (the API path); called with `POLARS` and polars
expressions it becomes an expression over a whole table (bulk scoring, training). Arithmetic and
comparisons are the operators both kinds of value already share; `ops` supplies the rest
(conditionals, clipping, nulls). So the two paths cannot drift apart: there is only one formula.

Null handling: SCALAR treats None as null; POLARS uses polars nulls. `where` takes its branches as
values or as zero-argument callables (evaluated lazily by SCALAR, so a branch may assume its
condition, e.g. divide by a total that is only non-zero there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import polars as pl


def _value(branch: Any) -> Any:
    return branch() if callable(branch) else branch


class ScalarOps:
    """Python values, one lead."""

    name = "scalar"

    @staticmethod
    def where(condition: Any, then: Any, otherwise: Any) -> Any:
        return _value(then) if condition else _value(otherwise)

    @staticmethod
    def clip(value: Any, low: float | None = None, high: float | None = None) -> Any:
        if low is not None:
            value = max(value, low)
        if high is not None:
            value = min(value, high)
        return value

    @staticmethod
    def minimum(a: Any, b: Any) -> Any:
        return min(a, b)

    @staticmethod
    def maximum(a: Any, b: Any) -> Any:
        return max(a, b)

    @staticmethod
    def power(base: float, exponent: Any) -> Any:
        return base**exponent

    @staticmethod
    def lit(value: Any) -> Any:
        return value

    @staticmethod
    def is_null(value: Any) -> bool:
        return value is None

    @staticmethod
    def if_null(value: Any, default: Any, formula: Callable[[Any], Any] | None = None) -> Any:
        """`formula(value)`, or `default` when value is null."""
        if value is None:
            return _value(default)
        return formula(value) if formula is not None else value

    @staticmethod
    def lookup(value: Any, mapping: Mapping[Any, Any], default: Any) -> Any:
        return mapping.get(value, default)

    @staticmethod
    def both(a: Any, b: Any) -> bool:
        return bool(a) and bool(_value(b))

    @staticmethod
    def not_null(value: Any) -> bool:
        return value is not None

    @staticmethod
    def as_float(value: Any) -> float:
        return float(value)


class PolarsOps:
    """Polars expressions, a whole table."""

    name = "polars"

    @staticmethod
    def _expr(value: Any) -> pl.Expr:
        value = _value(value)
        return value if isinstance(value, pl.Expr) else pl.lit(value)

    @classmethod
    def where(cls, condition: Any, then: Any, otherwise: Any) -> pl.Expr:
        return pl.when(cls._expr(condition)).then(cls._expr(then)).otherwise(cls._expr(otherwise))

    @classmethod
    def clip(cls, value: Any, low: float | None = None, high: float | None = None) -> pl.Expr:
        return cls._expr(value).clip(low, high)

    @classmethod
    def minimum(cls, a: Any, b: Any) -> pl.Expr:
        return pl.min_horizontal(cls._expr(a), cls._expr(b))

    @classmethod
    def maximum(cls, a: Any, b: Any) -> pl.Expr:
        return pl.max_horizontal(cls._expr(a), cls._expr(b))

    @classmethod
    def power(cls, base: float, exponent: Any) -> pl.Expr:
        return pl.lit(base, dtype=pl.Float64).pow(cls._expr(exponent))

    @classmethod
    def lit(cls, value: Any) -> pl.Expr:
        return pl.lit(value)

    @classmethod
    def is_null(cls, value: Any) -> pl.Expr:
        return cls._expr(value).is_null()

    @classmethod
    def if_null(cls, value: Any, default: Any, formula: Callable[[Any], Any] | None = None) -> pl.Expr:
        expr = cls._expr(value)
        result = cls._expr(formula(expr)) if formula is not None else expr
        return pl.when(expr.is_null()).then(cls._expr(default)).otherwise(result)

    @classmethod
    def lookup(cls, value: Any, mapping: Mapping[Any, Any], default: Any) -> pl.Expr:
        return cls._expr(value).replace_strict(dict(mapping), default=default, return_dtype=pl.Float64)

    @classmethod
    def both(cls, a: Any, b: Any) -> pl.Expr:
        return cls._expr(a) & cls._expr(b)

    @classmethod
    def not_null(cls, value: Any) -> pl.Expr:
        return cls._expr(value).is_not_null()

    @classmethod
    def as_float(cls, value: Any) -> pl.Expr:
        return cls._expr(value).cast(pl.Float64)


SCALAR = ScalarOps()
POLARS = PolarsOps()
Ops = ScalarOps | PolarsOps
