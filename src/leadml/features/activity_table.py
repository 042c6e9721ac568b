"""Per-lead activity statistics for the vectorized path, in a few passes over the whole frame.

Activities become integer codes (type, inbound or not) and integer epoch milliseconds, are sorted
by (lead, time) unless they already are, and are aggregated with one group_by for inbound and one
for outbound rows. Rules that look at neighbours (24 h bursts, the next inbound activity after an
outbound touch) use shifts and fills over the sorted frame instead of per-lead Python loops.
"""

from __future__ import annotations

import polars as pl

from leadml.features import activity_rules as rules
from leadml.features.inputs import KNOWN_ACTIVITY_TYPES, OUTBOUND_BY_DEFAULT

UNKNOWN_CODE = len(KNOWN_ACTIVITY_TYPES)
TYPE_CODE = {name: code for code, name in enumerate(KNOWN_ACTIVITY_TYPES)}
_DIRECTION_CODE = {rules.INBOUND: 0, rules.OUTBOUND: 1}  # 2: not given, use the type's default
_UTC_NAMES = ("UTC", "Etc/UTC")


def epoch_millis(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Datetime (naive = UTC) or integer epoch-ms column as Int64 epoch milliseconds."""
    if isinstance(dtype, pl.Datetime):
        return expr.dt.epoch("ms")
    if dtype.is_integer():
        return expr.cast(pl.Int64)
    raise TypeError(f"expected a datetime or integer epoch-ms column, got {dtype}")


def _code_column(frame: pl.DataFrame, column: str, code_of: dict[str, int], default: int) -> pl.Series:
    """Map raw strings to small integer codes via their (few) distinct values, normalised once."""
    series = frame.get_column(column)
    if isinstance(series.dtype, pl.Enum):  # already coded: map the few categories, not the rows
        lookup = [code_of.get(name.strip().lower(), default) for name in series.dtype.categories.to_list()]
        return pl.Series(lookup, dtype=pl.Int8).gather(series.to_physical()).fill_null(default)
    if isinstance(series.dtype, pl.Categorical):
        series = series.cast(pl.String)
    distinct = series.unique().drop_nulls().to_list()
    mapping = {raw: code_of.get(raw.strip().lower(), default) for raw in distinct}
    return series.replace_strict(mapping, default=default, return_dtype=pl.Int8)


def _sorted_by_key_and_time(frame: pl.DataFrame) -> bool:
    if frame.height < 2:
        return True
    key_step = frame.get_column("_key").diff().slice(1)
    time_step = frame.get_column("t").diff().slice(1)
    return bool(((key_step > 0) | ((key_step == 0) & (time_step >= 0))).all())


def prepare_activities(
    activities: pl.DataFrame | pl.LazyFrame,
    rows: pl.DataFrame,
    *,
    scalar_as_of: int | None,
    keyed_by_row: bool,
) -> pl.DataFrame:
    """Activities up to each row's as-of time as (_key, t, code, inbound), sorted by (_key, t).

    `rows` has lead_id, _key and _as_of. With `keyed_by_row` every activity is attached to each
    row of its lead (rows may repeat a lead with different as-of times); otherwise _key = lead_id.
    """
    lazy = activities.lazy()
    schema = lazy.collect_schema()
    frame = lazy.select(
        pl.col("lead_id").cast(pl.Int64),
        epoch_millis(pl.col("occurred_at"), schema["occurred_at"]).alias("t"),
        pl.col("type"),
        pl.col("direction") if "direction" in schema else pl.lit(None, dtype=pl.String).alias("direction"),
    )
    if scalar_as_of is not None and not keyed_by_row:
        frame = frame.filter(pl.col("t") <= scalar_as_of).rename({"lead_id": "_key"})
    else:
        frame = (
            frame.join(
                rows.lazy().select("lead_id", "_key", "_as_of"), on="lead_id", how="inner", maintain_order="left"
            )
            .filter(pl.col("t") <= pl.col("_as_of"))
            .drop("lead_id", "_as_of")
        )
    frame = frame.collect()
    type_code = _code_column(frame, "type", TYPE_CODE, UNKNOWN_CODE)
    direction_code = _code_column(frame, "direction", _DIRECTION_CODE, 2)
    outbound_default = [TYPE_CODE[name] for name in OUTBOUND_BY_DEFAULT]
    frame = frame.select(
        "_key",
        "t",
        type_code.alias("code"),
        pl.when(direction_code == 2)
        .then(~type_code.is_in(outbound_default))
        .otherwise(direction_code == 0)
        .alias("inbound"),
    )
    if not _sorted_by_key_and_time(frame):
        frame = frame.sort("_key", "t")
    return frame


def _utc_offsets(instants: pl.Series, timezone: str) -> pl.Series:
    """UTC offset (ms) of `timezone` at each epoch-ms instant."""
    utc = pl.from_epoch(instants, time_unit="ms")
    local = utc.dt.replace_time_zone("UTC").dt.convert_time_zone(timezone).dt.replace_time_zone(None)
    return local.dt.epoch("ms") - instants


def local_millis(t: pl.Series, timezone: str) -> pl.Series:
    """Epoch-ms instants as local wall-clock milliseconds (so local day = ms // DAY_MS).

    The offset is looked up once per UTC hour and reused for every activity in that hour; the
    rare hours that contain a clock change are converted activity by activity.
    """
    if timezone in _UTC_NAMES or t.len() == 0:
        return t
    first_hour, last_hour = t.min() // rules.HOUR_MS, t.max() // rules.HOUR_MS
    if last_hour - first_hour > 5_000_000:  # centuries of data: convert directly
        return t + _utc_offsets(t, timezone)
    starts = pl.int_range(first_hour, last_hour + 1, eager=True, dtype=pl.Int64) * rules.HOUR_MS
    at_start = _utc_offsets(starts, timezone)
    steady = at_start == _utc_offsets(starts + (rules.HOUR_MS - 1), timezone)
    hour_index = t // rules.HOUR_MS - first_hour
    local = t + at_start.gather(hour_index)
    changing = ~steady.gather(hour_index)
    if changing.any():
        rows = changing.arg_true()
        exact = t.gather(rows)
        local = local.scatter(rows, exact + _utc_offsets(exact, timezone))
    return local


def _local_weekday_hour(local: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Local weekday (0 = Monday) and hour from local wall-clock milliseconds."""
    days = local.floordiv(rules.DAY_MS)
    return (days + 3).mod(7), local.mod(rules.DAY_MS).floordiv(rules.HOUR_MS)  # 1970-01-01 was a Thursday


def activity_stats(frame: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """One row per _key with the raw counts and times the features are derived from."""
    key, t, code, inbound = pl.col("_key"), pl.col("t"), pl.col("code"), pl.col("inbound")

    # Next inbound activity strictly after each row: the backward-filled inbound time seen from
    # the first row of the next distinct (key, time) run; the filled key says whose it was.
    run_end = ((key != key.shift(-1)) | (t != t.shift(-1))).fill_null(True)
    next_in_t = pl.when(inbound).then(t).fill_null(strategy="backward").shift(-1)
    next_in_key = pl.when(inbound).then(key).fill_null(strategy="backward").shift(-1)
    strict_t = pl.when(run_end).then(next_in_t).fill_null(strategy="backward")
    strict_key = pl.when(run_end).then(next_in_key).fill_null(strategy="backward")
    wait = pl.when(~inbound & (strict_key == key)).then(strict_t - t)

    with_wait = frame.with_columns(wait.alias("wait"))
    outbound_stats = (
        with_wait.filter(~inbound)
        .group_by("_key")
        .agg(
            (code == TYPE_CODE["email_sent"]).sum().cast(pl.Int64).alias("_sends"),
            pl.col("wait").sum().alias("_wait_sum"),
            pl.col("wait").count().alias("_wait_n"),
        )
    )

    weekday, hour = _local_weekday_hour(pl.col("_local"))
    burst = ((t.shift(-(rules.BURST_MIN_ACTIVITIES - 1)) - t) <= rules.BURST_WINDOW_MS) & (
        key.shift(-(rules.BURST_MIN_ACTIVITIES - 1)) == key
    )
    inbound_rows = frame.filter(inbound)
    inbound_rows = inbound_rows.with_columns(local_millis(inbound_rows.get_column("t"), timezone).alias("_local"))
    inbound_rows = inbound_rows.with_columns(
        burst.fill_null(False).alias("_burst_row"),
        (weekday < 5).alias("_weekday"),
        hour.is_between(rules.BUSINESS_HOURS.start, rules.BUSINESS_HOURS.stop - 1).alias("_business"),
    )
    type_counts = [
        (code == TYPE_CODE[kind]).sum().cast(pl.Int64).alias(name) for name, kind in rules.TYPE_COUNT_FEATURES.items()
    ]
    channel_codes: dict[str, list[int]] = {}
    for kind, channel in rules.CHANNEL_OF_TYPE.items():
        channel_codes.setdefault(channel, []).append(TYPE_CODE[kind])
    channels = pl.sum_horizontal(code.is_in(codes).any().cast(pl.Int64) for codes in channel_codes.values())
    inbound_stats = inbound_rows.group_by("_key").agg(
        *type_counts,
        pl.len().cast(pl.Int64).alias("totalActivities"),
        channels.alias("channelDiversity"),
        t.max().alias("_last_t"),
        pl.col("_weekday").sum().cast(pl.Int64).alias("_weekdays"),
        pl.col("_business").sum().cast(pl.Int64),
        pl.col("_burst_row").any().alias("activityBurst"),
    )
    return inbound_stats.join(outbound_stats, on="_key", how="full", coalesce=True)
