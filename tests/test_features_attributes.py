"""Custom attributes: numeric vs categorical typing, coercion, and the generated feature docs."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from conftest import shared_data
from feature_checks import both_paths
from leadml.features import (
    FEATURES,
    AttributeKindCounter,
    coerce_attribute,
    extract_feature_table,
    infer_attribute_kind,
    infer_attribute_kinds,
    infer_frame_attribute_kinds,
    leads_frame,
)
from leadml.features.docs import render_markdown
from leadml.features.inputs import ACTIVITY_SCHEMA, ATTRIBUTE_PREFIX, LeadInput

PROJECT = Path(__file__).resolve().parents[1]
AS_OF = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([1, 2.5, None, float("nan")], "numeric"),
        (["1", " 2.5 ", "", "-3e2", None], "numeric"),  # blank text is missing in a numeric attribute
        ([True, False, None], "numeric"),
        ([True, 3], "numeric"),
        (["Select", "", "Finance"], "categorical"),
        ([1, "Select"], "categorical"),
        ([True, "yes"], "categorical"),
        (["true", "false"], "categorical"),
        ([["a"], 1], "categorical"),
        ([None, None], "numeric"),
    ],
)
def test_attribute_kind(values, kind):
    assert infer_attribute_kind(values) == kind


def test_kinds_can_be_decided_while_streaming():
    rows = [{"a": 1, "b": "x"}, {"a": "2", "c": None}, {"a": None, "b": 3, "c": ""}]
    counter = AttributeKindCounter()
    for row in rows:
        counter.observe(row)
    assert counter.kinds() == infer_attribute_kinds(rows) == {"a": "numeric", "b": "categorical", "c": "numeric"}


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (3, "categorical", "3"),
        (3.0, "categorical", "3"),
        (2.5, "categorical", "2.5"),
        (True, "categorical", "true"),
        ("", "categorical", ""),
        ("Select", "categorical", "Select"),
        (None, "categorical", None),
        (True, "numeric", 1.0),
        (" 12 ", "numeric", 12.0),
        ("twelve", "numeric", None),
        (float("nan"), "numeric", None),
        ({"b": 1, "a": 2}, "categorical", '{"a": 2, "b": 1}'),
    ],
)
def test_coerce_attribute(value, kind, expected):
    assert coerce_attribute(value, kind) == expected


def test_frame_typing_matches_value_typing_and_both_paths_coerce_alike():
    leads = {
        1: LeadInput(created_at=AS_OF, attributes={"visits": 3, "source": "Google", "flag": True, "code": "7"}),
        2: LeadInput(created_at=AS_OF, attributes={"visits": "4.5", "source": "Select", "flag": False, "code": "X"}),
        3: LeadInput(created_at=AS_OF, attributes={"visits": "", "source": "", "flag": None, "code": 12}),
    }
    kinds = infer_attribute_kinds(lead.attributes for lead in leads.values())
    assert kinds == {"code": "categorical", "flag": "numeric", "source": "categorical", "visits": "numeric"}
    frame = leads_frame(leads, attribute_kinds=kinds)
    assert infer_frame_attribute_kinds(frame) == kinds
    for lead in leads.values():
        both_paths(lead, [], as_of=AS_OF, attribute_kinds=kinds)
    table = extract_feature_table(frame, pl.DataFrame(schema=ACTIVITY_SCHEMA), as_of=AS_OF, attribute_kinds=kinds)
    assert table.get_column("custom.visits").to_list() == [3.0, 4.5, None]
    assert table.get_column("custom.code").to_list() == ["7", "X", "12"]
    assert table.get_column("custom.source").to_list() == ["Google", "Select", ""]
    assert table.get_column("custom.flag").to_list() == [1.0, 0.0, None]


def test_raw_typed_frame_columns_are_coerced_by_the_given_kinds():
    frame = leads_frame({1: LeadInput(created_at=AS_OF), 2: LeadInput(created_at=AS_OF)}, attribute_kinds={})
    frame = frame.with_columns(
        pl.Series(ATTRIBUTE_PREFIX + "n", [" 5 ", "five"]),
        pl.Series(ATTRIBUTE_PREFIX + "c", [2.0, 2.5]),
        pl.Series(ATTRIBUTE_PREFIX + "b", [True, None]),
    )
    kinds = {"n": "numeric", "c": "categorical", "b": "categorical", "missing": "numeric"}
    table = extract_feature_table(frame, pl.DataFrame(schema=ACTIVITY_SCHEMA), as_of=AS_OF, attribute_kinds=kinds)
    assert table.select(pl.col("^custom.*$")).to_dict(as_series=False) == {
        "custom.n": [5.0, None],
        "custom.c": ["2", "2.5"],
        "custom.b": ["true", None],
        "custom.missing": [None, None],
    }
    only = extract_feature_table(frame, pl.DataFrame(schema=ACTIVITY_SCHEMA), as_of=AS_OF, custom_attributes=["c"])
    assert only.columns[-1] == "custom.c" and only.schema["custom.c"] == pl.Float64  # natural type without kinds


def test_x_education_columns_become_custom_features():
    path = shared_data("x-education-leads", "Leads.csv")
    raw = pl.read_csv(path, infer_schema_length=10_000)
    attributes = raw.drop("Converted").rename(lambda c: ATTRIBUTE_PREFIX + c)
    kinds = infer_frame_attribute_kinds(attributes)
    assert kinds["TotalVisits"] == "numeric" and kinds["Page Views Per Visit"] == "numeric"
    assert kinds["Lead Source"] == "categorical" and kinds["Specialization"] == "categorical"
    leads = attributes.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("lead_id"),
        pl.lit(AS_OF).cast(pl.Datetime("ms", "UTC")).alias("created_at"),
    )
    table = extract_feature_table(leads, pl.DataFrame(schema=ACTIVITY_SCHEMA), as_of=AS_OF, attribute_kinds=kinds)
    assert table.height == raw.height
    assert (
        table.get_column("custom.Specialization")
        .value_counts()
        .filter(pl.col("custom.Specialization") == "Select")
        .height
        == 1
    )
    assert table.schema["custom.TotalVisits"] == pl.Float64
    assert table.get_column("totalActivities").sum() == 0


def test_catalogue_names_are_unique_camel_case():
    names = [f.name for f in FEATURES]
    assert len(names) == len(set(names))
    assert all(name[0].islower() and "_" not in name for name in names)


def test_generated_docs_match_the_committed_file():
    committed = (PROJECT / "docs" / "features.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), "docs/features.md is stale: run python -m leadml.features.docs"
    for feature in FEATURES:
        assert f"`{feature.name}`" in committed


def test_docs_generator_check_mode(tmp_path):
    stale = tmp_path / "features.md"
    stale.write_text("old", encoding="utf-8")
    command = [sys.executable, "-m", "leadml.features.docs", "--check", str(stale)]
    assert subprocess.run(command, capture_output=True).returncode == 1
    assert (
        subprocess.run([sys.executable, "-m", "leadml.features.docs", str(stale)], capture_output=True).returncode == 0
    )
    assert subprocess.run(command, capture_output=True).returncode == 0
