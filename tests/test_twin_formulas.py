"""Each formula that has a one-lead and a table form is written once (features/twin.py); check that
both evaluations agree on random inputs, nulls included."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from leadml.features import activity_rules as rules
from leadml.features.twin import POLARS
from leadml.predict import ranking
from leadml.predict import rules_terms as terms

RNG = np.random.default_rng(7)
N = 400


def _maybe_null(values, share=0.2):
    return [None if RNG.random() < share else v for v in values]


def _table(**columns) -> pl.DataFrame:
    return pl.DataFrame(columns, strict=False)


def _check(formula, columns: dict, *, approx=True):
    frame = _table(**columns)
    exprs = formula(*(pl.col(name) for name in columns), POLARS)
    table = frame.select(exprs.alias("out")).get_column("out").to_list()
    rows = list(zip(*columns.values(), strict=True))
    one = [formula(*row) for row in rows]
    for scalar, vector in zip(one, table, strict=True):
        if approx and isinstance(scalar, float):
            assert vector == pytest.approx(scalar, rel=1e-12, abs=1e-12)
        else:
            assert vector == scalar


def test_recency_score():
    _check(rules.recency_score, {"days": _maybe_null(RNG.uniform(0, 200, N).tolist())})


def test_share_patterns():
    totals = RNG.integers(0, 12, N)
    hits = [int(RNG.integers(0, t + 1)) for t in totals]
    for high, low, names in ((rules.WEEKDAY_HIGH, rules.WEEKDAY_LOW, ("weekday", "weekend")),
                             (rules.BUSINESS_HIGH, rules.BUSINESS_LOW, ("business_hours", "after_hours"))):
        _check(lambda h, t, ops=None, a=high, b=low, c=names: rules.share_pattern(h, t, a, b, c, *(ops and [ops] or [])),
               {"hits": hits, "total": totals.tolist()}, approx=False)


def test_sequence_engagement():
    _check(rules.sequence_engagement, {"step": _maybe_null(RNG.integers(-1, 8, N).tolist()),
                                        "total": _maybe_null(RNG.integers(-1, 8, N).tolist())})


def test_rule_confidence_days_interval_and_level():
    _check(terms.confidence_formula, {"total": RNG.integers(0, 40, N).astype(float).tolist(),
                                      "known": RNG.integers(0, 6, N).astype(float).tolist(),
                                      "recency": RNG.uniform(-5, 120, N).tolist()})
    seniority = RNG.choice(["c_level", "vp", "director", "manager", "individual", "unknown"], N).tolist()
    _check(terms.days_formula, {"p": RNG.uniform(0, 1, N).tolist(), "seniority": seniority,
                                "velocity": RNG.uniform(0, 2, N).tolist(), "stale": RNG.uniform(0, 60, N).tolist()})
    days, confidence = RNG.uniform(7, 180, N).tolist(), RNG.uniform(0.5, 0.95, N).tolist()
    _check(lambda d, c, ops=None: terms.interval_formula(d, c, *(ops and [ops] or []))[0], {"d": days, "c": confidence})
    _check(lambda d, c, ops=None: terms.interval_formula(d, c, *(ops and [ops] or []))[1], {"d": days, "c": confidence})
    _check(lambda p, ops=None: terms.level_formula(p, 80, 50, 20, *(ops and [ops] or [])),
           {"p": RNG.uniform(0, 1, N).tolist()}, approx=False)


def test_priority_score_and_tier():
    columns = {"p": _maybe_null(RNG.uniform(-0.1, 1.1, N).tolist()), "r": _maybe_null(RNG.uniform(0, 100, N).tolist()),
               "d": _maybe_null(RNG.uniform(0, 250, N).tolist())}
    _check(ranking.priority_formula, columns)
    _check(lambda s, ops=None: ranking.tier_formula(s, (70, 40, 10), *(ops and [ops] or [])),
           {"s": RNG.uniform(0, 100, N).tolist()}, approx=False)
    # The numpy form goes through the same expression.
    scores = ranking.priority_scores(columns["p"], columns["r"], columns["d"])
    assert scores.tolist() == pytest.approx([ranking.priority_score(*row) if row[0] is not None
                                             else ranking.priority_formula(*row) for row in zip(*columns.values())])
