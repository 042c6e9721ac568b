"""The one-lead and table paths agree on every feature; neither looks past the as-of time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfoNotFoundError

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feature_checks import assert_rows_agree, both_paths
from leadml.features import (
    FEATURE_NAMES,
    activities_frame,
    extract_feature_table,
    extract_features,
    flatten,
    infer_attribute_kinds,
    leads_frame,
)
from leadml.features.inputs import KNOWN_ACTIVITY_TYPES, ActivityInput, LeadInput

AS_OF = datetime(2025, 3, 30, 1, 30, tzinfo=UTC)  # near the EU daylight-saving switch
ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/St_Johns",
    "Asia/Tokyo",
]
TYPES = [*KNOWN_ACTIVITY_TYPES, "webinar", "EMAIL_OPEN", " page_view ", "chat"]
DIRECTIONS = ["inbound", "outbound", None, "Outbound", "sideways"]

# Offsets around as_of, in ms: a few fixed points (exactly as_of, ties) plus a wide range.
offsets = st.one_of(
    st.sampled_from([0, 1, -1, -3_600_000, -86_400_000, -86_400_001]),
    st.integers(min_value=-90 * 86_400_000, max_value=5 * 86_400_000),
    st.integers(min_value=-3 * 86_400_000, max_value=0).map(lambda ms: ms - ms % 60_000),
)
activities_st = st.lists(
    st.builds(
        lambda kind, offset, direction: ActivityInput(kind, AS_OF + timedelta(milliseconds=offset), direction),
        st.sampled_from(TYPES),
        offsets,
        st.sampled_from(DIRECTIONS),
    ),
    max_size=25,
)
attribute_values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5000), st.sampled_from(["Select", "", "x", "12", "51-200"])
)
leads_st = st.builds(
    lambda age_ms, email, title, company, step, total, active, attrs: LeadInput(
        created_at=AS_OF - timedelta(milliseconds=age_ms),
        email=email,
        title=title,
        company=company,
        sequence_step=step,
        sequence_total=total,
        sequence_active=active,
        attributes=attrs,
    ),
    st.integers(min_value=-86_400_000, max_value=400 * 86_400_000),
    st.sampled_from([None, "a@gmail.com", "b@acme.io", "c@mit.edu", "d@state.gov", "e@acme.com", "bad"]),
    st.sampled_from([None, "", "Vice President of Sales", "CEO", "Head of IT", "Engineer", "Team Lead"]),
    st.sampled_from([None, " ", "Acme Inc.", "Acme Holdings", "Acme LLC", "Acme"]),
    st.one_of(st.none(), st.integers(-1, 6)),
    st.one_of(st.none(), st.integers(0, 5)),
    st.booleans(),
    st.dictionaries(st.sampled_from(["industry", "employees", "score"]), attribute_values, max_size=3),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=st.lists(st.tuples(leads_st, activities_st), min_size=1, max_size=4), zone=st.sampled_from(ZONES))
def test_both_paths_agree_on_random_histories(history, zone):
    leads = {i + 1: lead for i, (lead, _) in enumerate(history)}
    activities = {i + 1: items for i, (_, items) in enumerate(history)}
    kinds = infer_attribute_kinds(lead.attributes for lead in leads.values())
    table = extract_feature_table(
        leads_frame(leads, attribute_kinds=kinds),
        activities_frame(activities),
        as_of=AS_OF,
        timezone=zone,
        attribute_kinds=kinds,
    )
    assert table.get_column("lead_id").to_list() == list(leads)
    for row in table.iter_rows(named=True):
        lead_id = row["lead_id"]
        single = flatten(
            extract_features(leads[lead_id], activities[lead_id], as_of=AS_OF, timezone=zone, attribute_kinds=kinds)
        )
        assert_rows_agree(single, row, f"lead {lead_id} in {zone}")


@settings(max_examples=40, deadline=None)
@given(
    history=st.lists(st.tuples(leads_st, activities_st, st.integers(-30 * 86_400_000, 0)), min_size=1, max_size=4),
    zone=st.sampled_from(ZONES),
)
def test_per_lead_as_of_times_agree_with_the_one_lead_path(history, zone):
    # Training rows: each lead has its own as-of time, and one lead may appear twice.
    leads, activities, as_of = {}, {}, {}
    for i, (lead, items, shift) in enumerate(history):
        leads[i + 1], activities[i + 1], as_of[i + 1] = lead, items, AS_OF + timedelta(milliseconds=shift)
    frame = leads_frame(leads, as_of=as_of)
    frame = pl.concat([frame, frame.head(1).with_columns(pl.col("as_of") - pl.duration(days=3))])
    table = extract_feature_table(frame, activities_frame(activities), timezone=zone)
    assert table.height == len(leads) + 1
    kinds = infer_attribute_kinds(lead.attributes for lead in leads.values())
    times = [as_of[i] for i in leads] + [as_of[1] - timedelta(days=3)]
    for row, moment in zip(table.iter_rows(named=True), times, strict=True):
        lead_id = row["lead_id"]
        single = flatten(
            extract_features(leads[lead_id], activities[lead_id], as_of=moment, timezone=zone, attribute_kinds=kinds)
        )
        assert_rows_agree(single, row, f"lead {lead_id} as of {moment}")


def _history():
    lead = LeadInput(created_at=AS_OF - timedelta(days=20), email="x@acme.com", title="CTO")
    past = [
        ActivityInput("email_sent", AS_OF - timedelta(days=3), "outbound"),
        ActivityInput("email_open", AS_OF - timedelta(days=2)),
        ActivityInput("page_view", AS_OF - timedelta(days=25)),  # before created_at: still counted
        ActivityInput("page_view", AS_OF),  # exactly at as_of: counted
    ]
    future = [
        ActivityInput(kind, AS_OF + timedelta(milliseconds=ms), direction)
        for kind, ms, direction in [
            ("meeting", 1, "inbound"),
            ("email_open", 3_600_000, "inbound"),
            ("email_sent", 1, "outbound"),
            ("call", 86_400_000, "inbound"),
            ("form_submit", 2 * 86_400_000, "inbound"),
            ("page_view", 5, "inbound"),
        ]
    ]
    return lead, past, future


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_activities_after_as_of_change_nothing(zone):
    lead, past, future = _history()
    before = both_paths(lead, past, as_of=AS_OF, timezone=zone)
    after = both_paths(lead, past + future, as_of=AS_OF, timezone=zone)
    assert before == after
    assert before["totalActivities"] == 3 and before["avgResponseTime"] == pytest.approx(24.0)
    # ...and they do count once the as-of time has passed them.
    later = both_paths(lead, past + future, as_of=AS_OF + timedelta(days=3), timezone=zone)
    assert later["meetingCount"] == 1 and later["totalActivities"] == 8


def test_per_lead_as_of_ignores_activities_after_each_leads_own_time():
    lead, past, future = _history()
    frame = leads_frame({1: lead, 2: lead}, as_of={1: AS_OF, 2: AS_OF + timedelta(days=3)})
    acts = activities_frame({1: past + future, 2: past + future})
    table = extract_feature_table(frame, acts, timezone="UTC")
    first, second = table.iter_rows(named=True)
    alone = extract_feature_table(leads_frame({1: lead}), activities_frame({1: past}), as_of=AS_OF)
    assert first == alone.row(0, named=True)
    assert second["totalActivities"] == 8


def test_table_path_accepts_unsorted_activities_and_epoch_millis():
    lead, past, future = _history()
    acts = activities_frame({1: past + future, 2: past})
    shuffled = acts.sample(fraction=1.0, shuffle=True, seed=3)
    as_millis = shuffled.with_columns(pl.col("occurred_at").dt.epoch("ms"))
    frame = leads_frame({1: lead, 2: lead})
    expected = extract_feature_table(frame, acts, as_of=AS_OF)
    assert extract_feature_table(frame, shuffled, as_of=AS_OF).equals(expected)
    assert extract_feature_table(frame, as_millis.lazy(), as_of=AS_OF).equals(expected)


def test_table_columns_and_types_follow_the_catalogue():
    from leadml.features import FEATURES

    lead, past, _ = _history()
    table = extract_feature_table(leads_frame({1: lead}), activities_frame({1: past}), as_of=AS_OF)
    assert table.columns == ["lead_id", *FEATURE_NAMES]
    assert [table.schema[f.name] for f in FEATURES] == [f.dtype for f in FEATURES]
    empty = extract_feature_table(leads_frame({1: lead}), activities_frame({}), as_of=AS_OF)
    assert [empty.schema[f.name] for f in FEATURES] == [f.dtype for f in FEATURES]


def test_as_of_is_required_and_timezones_are_checked():
    lead, past, _ = _history()
    with pytest.raises(ValueError):
        extract_feature_table(leads_frame({1: lead}), activities_frame({1: past}))
    with pytest.raises(ZoneInfoNotFoundError):
        extract_feature_table(leads_frame({1: lead}), activities_frame({1: past}), as_of=AS_OF, timezone="Mars/Base")
    with pytest.raises(ZoneInfoNotFoundError):
        extract_features(lead, past, as_of=AS_OF, timezone="Mars/Base")


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("America/St_Johns", datetime(2025, 3, 9, 3, tzinfo=UTC)),  # clock change at 05:30 UTC
        ("America/St_Johns", datetime(2025, 11, 2, 2, tzinfo=UTC)),
        ("Australia/Lord_Howe", datetime(2024, 10, 5, 14, tzinfo=UTC)),  # half-hour change at 15:30 UTC
        ("Europe/Berlin", datetime(2025, 10, 26, 0, tzinfo=UTC)),
        ("Asia/Kathmandu", datetime(1985, 12, 31, 17, tzinfo=UTC)),  # +5:30 -> +5:45
    ],
)
def test_local_time_matches_zoneinfo_across_clock_changes(zone, start):
    from zoneinfo import ZoneInfo

    from leadml.features.activity_rules import to_millis
    from leadml.features.activity_table import local_millis

    instants = [start + timedelta(minutes=7 * i, milliseconds=i) for i in range(60)]
    instants += [start - timedelta(days=40), start + timedelta(days=400)]
    expected = [to_millis(moment.astimezone(ZoneInfo(zone)).replace(tzinfo=UTC)) for moment in instants]
    got = local_millis(pl.Series([to_millis(m) for m in instants], dtype=pl.Int64), zone).to_list()
    assert got == expected


def test_as_of_series_and_column_fill_each_other():
    lead, past, future = _history()
    acts = activities_frame({1: past + future, 2: past + future})
    later = AS_OF + timedelta(days=3)
    by_series = extract_feature_table(
        leads_frame({1: lead, 2: lead}), acts, as_of=pl.Series([AS_OF, later], dtype=pl.Datetime("ms", "UTC"))
    )
    column = leads_frame({1: lead, 2: lead}, as_of={2: later})  # lead 1 has no own time: the argument fills it
    by_column = extract_feature_table(column, acts, as_of=AS_OF)
    assert by_series.equals(by_column)
    assert by_series.get_column("totalActivities").to_list() == [3, 8]
    with pytest.raises(ValueError):
        extract_feature_table(leads_frame({1: lead}), acts, as_of=pl.Series([AS_OF, later]))
