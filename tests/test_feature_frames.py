"""Reading leads and activities from the database into feature frames (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from feature_checks import assert_rows_agree
from leadml import db
from leadml.features import extract_features, flatten
from leadml.features.inputs import ActivityInput, LeadInput
from leadml.storage import feature_frames
from leadml.storage.activity_partitions import ActivityPartitions
from leadml.storage.tables import Activity, Lead, ScoringConfig, Tenant

AS_OF = datetime(2025, 6, 1, 12, tzinfo=UTC)
T0 = AS_OF - timedelta(days=40)


def _populate(engine) -> dict[int, tuple[LeadInput, list[ActivityInput]]]:
    """Two configs; config 1 gets 7 leads with varied fields and activities, config 2 one lead."""
    factory = db.make_session_factory(engine)
    expected: dict[int, tuple[LeadInput, list[ActivityInput]]] = {}
    with db.transaction(factory) as session:
        tenant = Tenant(name="t", created_at=T0)
        session.add(tenant)
        session.flush()
        configs = [ScoringConfig(tenant_id=tenant.id, name=f"c{i}", created_at=T0, updated_at=T0) for i in (1, 2)]
        session.add_all(configs)
        session.flush()
        specs = [
            dict(
                email="a@gmail.com",
                company="Acme Inc.",
                title="Vice President of Sales",
                phone="+1 555",
                attributes={"industry": "tech", "employees": 250, "flag": True},
            ),
            dict(
                email="b@acme.io",
                company="",
                title=None,
                phone=None,
                attributes={"industry": "Select", "employees": "51-200"},
            ),
            dict(email=None, company=None, title="CEO", phone="", attributes={}),
            dict(
                email="d@state.gov",
                company="Gov Holdings",
                title="Engineer",
                phone=None,
                attributes={"industry": "", "employees": None, "flag": False},
                sequence_name="s",
                sequence_step=2,
                sequence_total=4,
                sequence_active=True,
            ),
            dict(email="e@mit.edu", company="MIT", title="Director", phone="1", attributes={"industry": 7}),
            dict(email="f@x.com", company="F LLC", title="Manager", phone="2", attributes={"note": 'a,"quoted"\nline'}),
            dict(email="g@y.com", company="G", title="Analyst", phone="3", attributes={"industry": "tech"}),
        ]
        for i, spec in enumerate(specs):
            if i in (0, 3):  # another config's leads before and between this config's ids
                other = Lead(
                    tenant_id=tenant.id, config_id=configs[1].id, email=f"y{i}@y.com", created_at=T0, updated_at=T0
                )
                session.add(other)
                session.flush()
                session.add(
                    Activity(
                        config_id=configs[1].id, lead_id=other.id, type="call", occurred_at=T0, direction="inbound"
                    )
                )
            lead = Lead(
                tenant_id=tenant.id, config_id=configs[0].id, created_at=T0 + timedelta(days=i), updated_at=T0, **spec
            )
            session.add(lead)
            session.flush()
            activities = [
                ActivityInput("email_sent", T0 + timedelta(days=i + 1), "outbound"),
                ActivityInput("email_open", T0 + timedelta(days=i + 1, hours=3 + i), "inbound"),
                ActivityInput("page_view", T0 + timedelta(days=i + 2, minutes=7), "inbound"),
                ActivityInput("webinar", T0 + timedelta(days=i + 3), "inbound"),
                ActivityInput("meeting", AS_OF + timedelta(days=1), "inbound"),  # after as_of
            ][: 5 - (i % 3)]
            for activity in activities:
                session.add(
                    Activity(
                        config_id=configs[0].id,
                        lead_id=lead.id,
                        type=activity.type,
                        occurred_at=activity.occurred_at,
                        direction=activity.direction,
                    )
                )
            expected[lead.id] = (
                LeadInput(
                    created_at=lead.created_at,
                    email=lead.email,
                    company=lead.company,
                    phone=lead.phone,
                    title=lead.title,
                    attributes=spec["attributes"],
                    sequence_name=lead.sequence_name,
                    sequence_step=lead.sequence_step,
                    sequence_total=lead.sequence_total,
                    sequence_active=bool(lead.sequence_active),
                ),
                activities,
            )
        other = Lead(tenant_id=tenant.id, config_id=configs[1].id, email="z@z.com", created_at=T0, updated_at=T0)
        session.add(other)
        session.flush()
        session.add(
            Activity(config_id=configs[1].id, lead_id=other.id, type="call", occurred_at=T0, direction="inbound")
        )
    return expected


def test_lead_and_activity_frames(engine):
    expected = _populate(engine)
    leads = feature_frames.load_lead_frame(engine, config_id=1, extra_columns=["outcome_status", "outcome_at"])
    assert leads.get_column("lead_id").to_list() == sorted(expected)
    assert leads.schema["created_at"] == pl.Datetime("ms", "UTC") and leads.schema["sequence_active"] == pl.Boolean
    assert leads.schema["attr.employees"] == pl.String  # "51-200" makes it categorical
    assert leads.schema["attr.flag"] == pl.Float64
    first = leads.row(0, named=True)
    assert first["email"] == "a@gmail.com" and first["attr.employees"] == "250" and first["attr.flag"] == 1.0
    second = leads.row(1, named=True)
    assert second["company"] == "" and second["title"] is None  # empty text and NULL stay apart
    assert leads.row(5, named=True)["attr.note"] == 'a,"quoted"\nline'
    assert first["outcome_status"] == "open" and first["outcome_at"] is None
    assert leads.get_column("created_at").to_list()[0] == T0

    activities = feature_frames.load_activity_frame(engine, config_id=1)
    assert activities.height == sum(len(items) for _, items in expected.values())
    assert activities.schema["occurred_at"] == pl.Int64
    some = feature_frames.load_activity_frame(engine, config_id=1, lead_ids=list(expected)[:2])
    assert set(some.get_column("lead_id")) == set(list(expected)[:2])
    subset = feature_frames.load_lead_frame(engine, config_id=1, lead_ids=list(expected)[1:3], attributes=["flag"])
    assert subset.height == 2 and [c for c in subset.columns if c.startswith("attr.")] == [
        "attr.employees",
        "attr.flag",
    ]


@pytest.mark.parametrize("read", ["scan", "index"])
@pytest.mark.parametrize("chunk_leads", [1, 3, 100])
def test_features_for_a_config_match_the_one_lead_path(engine, chunk_leads, read, monkeypatch):
    # "scan": SQLite splits the whole activities table by chunk in one pass; "index": range reads.
    monkeypatch.setattr(feature_frames, "SCAN_SHARE", 0.0 if read == "scan" else 2.0)
    scans = []
    monkeypatch.setattr(
        feature_frames, "ActivityPartitions", lambda *a, **k: scans.append(1) or ActivityPartitions(*a, **k)
    )
    expected = _populate(engine)
    ranges = feature_frames.lead_id_ranges(engine, config_id=1, chunk_leads=chunk_leads)
    assert sum(1 for _ in ranges) == -(-len(expected) // chunk_leads)
    frames = list(
        feature_frames.compute_features_for_config(
            engine, config_id=1, as_of=AS_OF, timezone="Europe/Berlin", chunk_leads=chunk_leads
        )
    )
    table = pl.concat(frames)
    assert table.get_column("lead_id").to_list() == sorted(expected)
    kinds = feature_frames.scan_attribute_kinds(engine, config_id=1)
    assert kinds == {"employees": "categorical", "flag": "numeric", "industry": "categorical", "note": "categorical"}
    for row in table.iter_rows(named=True):
        lead, activities = expected[row["lead_id"]]
        single = flatten(
            extract_features(lead, activities, as_of=AS_OF, timezone="Europe/Berlin", attribute_kinds=kinds)
        )
        assert_rows_agree(single, row, f"lead {row['lead_id']}")
    assert table.get_column("meetingCount").sum() == 0  # planted after as_of
    assert table.get_column("callCount").sum() == 0  # the other config's calls stay out
    assert len(scans) == (1 if read == "scan" and engine.dialect.name == "sqlite" else 0)


def test_activity_chunks_carry_types_as_enums(engine):
    expected = _populate(engine)
    chunks = list(feature_frames.iter_activity_frames(engine, config_id=1, chunk_leads=2))
    assert [ids for ids, _ in chunks] == feature_frames.lead_id_ranges(engine, config_id=1, chunk_leads=2)
    frame = pl.concat([activities for _, activities in chunks])
    assert frame.schema["type"] == feature_frames.ACTIVITY_TYPE_ENUM
    assert frame.height == sum(len(items) for _, items in expected.values())
    assert frame.get_column("type").to_list().count("other") == sum(
        1 for _, items in expected.values() for a in items if a.type == "webinar"
    )
    raw = feature_frames.load_activity_frame(engine, config_id=1).sort("lead_id", "occurred_at")
    assert frame.sort("lead_id", "occurred_at").get_column("occurred_at").equals(raw.get_column("occurred_at"))


def test_reads_see_the_callers_uncommitted_rows(engine):
    expected = _populate(engine)
    factory = db.make_session_factory(engine)
    session = factory()
    try:
        lead_id = next(iter(expected))
        session.add(Activity(config_id=1, lead_id=lead_id, type="call", occurred_at=AS_OF, direction="inbound"))
        session.flush()
        frame = feature_frames.load_activity_frame(session, config_id=1, lead_ids=[lead_id])
        assert "call" in frame.get_column("type").to_list()
        with engine.connect() as connection:
            assert feature_frames.load_lead_frame(connection, config_id=1).height == len(expected)
        session.rollback()
    finally:
        session.close()


def test_unknown_extra_columns_and_bad_chunks_are_refused(engine):
    with pytest.raises(ValueError):
        feature_frames.load_lead_frame(engine, config_id=1, extra_columns=["password"])
    with pytest.raises(ValueError):
        feature_frames.lead_id_ranges(engine, config_id=1, chunk_leads=0)
    assert list(feature_frames.compute_features_for_config(engine, config_id=99, as_of=AS_OF, timezone="UTC")) == []
