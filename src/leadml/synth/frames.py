"""The synthetic funnel in the shapes feature extraction reads (features/inputs.py), without a
database: handy for training and scoring benchmarks that start from generated data.

Lead ids are the row numbers 1..N of `funnel.leads` (what an empty database would assign when the
funnel is bulk-inserted in order, but do not rely on that: map by externalId after an insert).
"""

from __future__ import annotations

import polars as pl

from leadml.features.inputs import ACTIVITY_SCHEMA, ATTRIBUTE_PREFIX, LEAD_SCHEMA
from leadml.synth.generator import LEAD_COLUMNS, SyntheticFunnel


def to_feature_frames(funnel: SyntheticFunnel) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(leads, activities, outcomes): leads in LEAD_SCHEMA plus one ATTRIBUTE_PREFIX column per
    custom attribute, activities in ACTIVITY_SCHEMA, outcomes as lead_id, status, at, value."""
    ids = funnel.leads.select("externalId").with_row_index("lead_id", offset=1)
    ids = ids.with_columns(pl.col("lead_id").cast(pl.Int64))
    attributes = [c for c in funnel.leads.columns if c not in LEAD_COLUMNS]
    leads = funnel.leads.with_columns(ids["lead_id"]).select(
        pl.col("lead_id"),
        pl.col("email"),
        pl.col("company"),
        pl.col("phone"),
        pl.col("title"),
        pl.col("createdAt").alias("created_at"),
        pl.col("sequenceName").alias("sequence_name"),
        pl.col("sequenceStep").alias("sequence_step"),
        pl.col("sequenceTotal").alias("sequence_total"),
        pl.col("sequenceActive").alias("sequence_active"),
        *[pl.col(name).alias(ATTRIBUTE_PREFIX + name) for name in attributes],
    ).cast(LEAD_SCHEMA)
    activities = (
        funnel.activities.select("leadExternalId", "type", "occurredAt", "direction")
        .join(ids, left_on="leadExternalId", right_on="externalId", how="inner", maintain_order="left")
        .select("lead_id", "type", pl.col("occurredAt").alias("occurred_at"), "direction")
        .cast(ACTIVITY_SCHEMA)
    )
    outcomes = funnel.outcomes.join(
        ids, left_on="leadExternalId", right_on="externalId", how="inner", maintain_order="left"
    ).select("lead_id", "status", "at", "value")
    return leads, activities, outcomes
