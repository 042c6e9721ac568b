"""Features for many leads at once (training, bulk scoring): vectorized polars, no per-lead loops.

Gives the same values as `extract_features` (single.py) for every lead; tests check that on
random activity histories.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl

from leadml.features import activity_rules as rules
from leadml.features import profile
from leadml.features.activity_table import activity_stats, epoch_millis, prepare_activities
from leadml.features.attributes import (
    CATEGORICAL,
    CUSTOM_PREFIX,
    NUMERIC,
    AttributeKind,
    attribute_columns,
    coerce_attribute_expr,
    employee_count_attributes,
)
from leadml.features.catalogue import FEATURES
from leadml.features.inputs import ATTRIBUTE_PREFIX
from leadml.features.twin import POLARS

AS_OF_COLUMN = "as_of"


def extract_feature_table(
    leads: pl.DataFrame | pl.LazyFrame,
    activities: pl.DataFrame | pl.LazyFrame,
    *,
    as_of: datetime | pl.Series | None = None,
    timezone: str = "UTC",
    custom_attributes: Sequence[str] | None = None,
    attribute_kinds: Mapping[str, AttributeKind] | None = None,
) -> pl.DataFrame:
    """One row per lead row: `lead_id`, every catalogue feature, then `custom.<attribute>` columns.

    leads: LEAD_SCHEMA columns (missing text/sequence columns count as null) plus ATTRIBUTE_PREFIX
    attribute columns and optionally an `as_of` column (per-lead as-of times, for training rows).
    activities: ACTIVITY_SCHEMA columns; `occurred_at` may also be integer epoch milliseconds.
    as_of: one time for every lead, or a Series aligned with the lead rows; a lead's `as_of`
    column value wins and the argument fills its nulls. A lead may appear on several rows (with
    different as-of times); each row gets its own features.
    """
    ZoneInfo(timezone)  # reject an unknown timezone the same way the one-lead path does
    frame = leads.collect() if isinstance(leads, pl.LazyFrame) else leads
    rows, scalar_as_of, keyed_by_row = _lead_rows(frame, as_of)
    prepared = prepare_activities(activities, rows, scalar_as_of=scalar_as_of, keyed_by_row=keyed_by_row)
    stats = activity_stats(prepared, timezone)
    joined = pl.concat([frame, rows.select("_key", "_as_of")], how="horizontal").join(
        stats, on="_key", how="left", maintain_order="left"
    )
    features = joined.select(
        pl.col("lead_id").cast(pl.Int64),
        *_demographic_exprs(frame, attribute_kinds),
        *_activity_feature_exprs(frame),
        *_custom_exprs(frame, custom_attributes, attribute_kinds),
    )
    return features.select("lead_id", *(f.name for f in FEATURES), *features.columns[len(FEATURES) + 1 :])


def _lead_rows(frame: pl.DataFrame, as_of: datetime | pl.Series | None) -> tuple[pl.DataFrame, int | None, bool]:
    scalar = rules.to_millis(as_of) if isinstance(as_of, datetime) else None
    per_lead: pl.Expr | None = None
    if isinstance(as_of, pl.Series):
        if as_of.len() != frame.height:
            raise ValueError(f"as_of has {as_of.len()} values for {frame.height} lead rows")
        per_lead = epoch_millis(pl.lit(as_of), as_of.dtype)
    if AS_OF_COLUMN in frame.columns:
        own = epoch_millis(pl.col(AS_OF_COLUMN), frame.schema[AS_OF_COLUMN])
        per_lead = own if per_lead is None else pl.coalesce(own, per_lead)
    if per_lead is None and scalar is None:
        raise ValueError("as_of is required: give a datetime, a Series, or an as_of column in leads")
    keyed_by_row = per_lead is not None
    as_of_expr = pl.lit(scalar, dtype=pl.Int64) if per_lead is None else per_lead
    if per_lead is not None and scalar is not None:
        as_of_expr = pl.coalesce(per_lead, pl.lit(scalar, dtype=pl.Int64))
    rows = frame.select(
        pl.col("lead_id").cast(pl.Int64),
        (pl.int_range(pl.len(), dtype=pl.Int64) if keyed_by_row else pl.col("lead_id").cast(pl.Int64)).alias("_key"),
        as_of_expr.alias("_as_of"),
    )
    if rows.get_column("_as_of").null_count():
        raise ValueError("some lead rows have no as_of time")
    return rows, None if keyed_by_row else scalar, keyed_by_row


def _text(frame: pl.DataFrame, column: str) -> pl.Expr:
    return pl.col(column) if column in frame.columns else pl.repeat(None, pl.len(), dtype=pl.String)


def _given(expr: pl.Expr) -> pl.Expr:
    trimmed = expr.str.strip_chars()
    return (trimmed.is_not_null() & (trimmed != "")).fill_null(False)


def _on_distinct(frame: pl.DataFrame, value: pl.Expr, rule: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """`rule` applied to each distinct value only: titles, domains and company names repeat a lot."""
    values = frame.select(value.alias("value"))
    distinct = values.unique().with_columns(rule(pl.col("value")).alias("result"))
    return values.join(distinct, on="value", how="left", maintain_order="left", nulls_equal=True).get_column("result")


def _demographic_exprs(frame: pl.DataFrame, kinds: Mapping[str, AttributeKind] | None) -> list[pl.Expr | pl.Series]:
    company = _text(frame, "company")
    domains = frame.select(profile.email_domain_expr(_text(frame, "email")).alias("domain"))
    domain_facts = _on_distinct(
        domains,
        pl.col("domain"),
        lambda d: pl.struct(
            kind=profile.email_domain_type_expr(d),
            startup=profile.startup_domain_expr(d, profile.email_domain_type_expr(d)),
        ),
    )
    domain_type = pl.lit(domain_facts.struct.field("kind"))
    explicit = pl.lit(None, dtype=pl.String)
    for name in reversed(employee_count_attributes(c[len(ATTRIBUTE_PREFIX) :] for c in attribute_columns(frame))):
        column = ATTRIBUTE_PREFIX + name
        dtype = frame.schema[column]
        value = pl.col(column)
        if kinds and name in kinds:
            value = coerce_attribute_expr(column, dtype, kinds[name])
            dtype = pl.Float64() if kinds[name] == NUMERIC else pl.String()
        explicit = pl.coalesce(profile.size_from_employee_expr(value, dtype), explicit)
    form = _on_distinct(frame, company, profile.company_form_expr)
    size = profile.combine_company_size_expr(
        explicit, pl.lit(form), pl.lit(domain_facts.struct.field("startup")), _given(company), domain_type
    )
    return [
        _given(company).alias("hasCompany"),
        _given(_text(frame, "title")).alias("hasTitle"),
        _given(_text(frame, "phone")).alias("hasPhone"),
        domain_type.alias("emailDomainType"),
        _on_distinct(frame, _text(frame, "title"), profile.title_seniority_expr).alias("titleSeniority"),
        size.alias("companySizeEstimate"),
    ]


def _activity_feature_exprs(frame: pl.DataFrame) -> list[pl.Expr]:
    created = epoch_millis(pl.col("created_at"), frame.schema["created_at"])
    days_since_created = pl.max_horizontal(pl.col("_as_of") - created, pl.lit(0)) / rules.DAY_MS
    total = pl.col("totalActivities").fill_null(0)
    days_since_last = (pl.col("_as_of") - pl.col("_last_t")) / rules.DAY_MS
    sends = pl.col("_sends").fill_null(0)
    opens = pl.col("emailOpenCount").fill_null(0)
    clicks = pl.col("emailClickCount").fill_null(0)
    step = pl.col("sequence_step") if "sequence_step" in frame.columns else pl.lit(None, dtype=pl.Int64)
    steps = pl.col("sequence_total") if "sequence_total" in frame.columns else pl.lit(None, dtype=pl.Int64)
    active = pl.col("sequence_active") if "sequence_active" in frame.columns else pl.lit(False)
    return [
        *(pl.col(name).fill_null(0) for name in rules.TYPE_COUNT_FEATURES),
        total.alias("totalActivities"),
        (total / pl.max_horizontal(days_since_created, pl.lit(1.0))).alias("activityVelocity"),
        pl.col("channelDiversity").fill_null(0).cast(pl.Int64),
        rules.high_value_count(lambda name: pl.col(name).fill_null(0), POLARS).cast(pl.Int64).alias("highValueActionCount"),
        days_since_created.alias("daysSinceCreated"),
        days_since_last.alias("daysSinceLastActivity"),
        rules.recency_score(days_since_last, POLARS).alias("recencyScore"),
        pl.col("activityBurst").fill_null(False),
        rules.share_pattern(
            pl.col("_weekdays").fill_null(0), total, rules.WEEKDAY_HIGH, rules.WEEKDAY_LOW, ("weekday", "weekend"), POLARS
        ).alias("dayPattern"),
        rules.share_pattern(
            pl.col("_business").fill_null(0), total, rules.BUSINESS_HIGH, rules.BUSINESS_LOW,
            ("business_hours", "after_hours"), POLARS,
        ).alias("timePattern"),
        pl.when(sends > 0).then(opens / sends).alias("emailOpenRate"),
        pl.when(sends > 0).then(clicks / sends).alias("emailClickRate"),
        sends.alias("emailSentCount"),
        rules.sequence_engagement(step, steps, POLARS).alias("sequenceEngagement"),
        pl.when(pl.col("_wait_n") > 0)
        .then(pl.col("_wait_sum") / pl.col("_wait_n") / rules.HOUR_MS)
        .alias("avgResponseTime"),
        active.fill_null(False).alias("isInActiveSequence"),
    ]


def _custom_exprs(
    frame: pl.DataFrame, names: Sequence[str] | None, kinds: Mapping[str, AttributeKind] | None
) -> list[pl.Expr]:
    if names is None:
        names = list(kinds) if kinds else [c[len(ATTRIBUTE_PREFIX) :] for c in attribute_columns(frame)]
    exprs = []
    for name in names:
        column = ATTRIBUTE_PREFIX + name
        dtype = frame.schema.get(column, pl.Null())
        if kinds and name in kinds:
            kind = kinds[name]
        else:
            kind = NUMERIC if dtype.is_numeric() or dtype == pl.Boolean else CATEGORICAL
        target = pl.Float64 if kind == NUMERIC else pl.String
        if column not in frame.columns:
            exprs.append(pl.lit(None, dtype=target).alias(CUSTOM_PREFIX + name))
        else:
            exprs.append(coerce_attribute_expr(column, dtype, kind).cast(target).alias(CUSTOM_PREFIX + name))
    return exprs
