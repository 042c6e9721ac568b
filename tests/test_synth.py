"""The synthetic funnel: import format, time consistency, realistic rates, non-linear conversion,
files, the bulk loader and the CLI."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from leadml import db, errors
from leadml.features.inputs import ACTIVITY_SCHEMA, KNOWN_ACTIVITY_TYPES, LEAD_SCHEMA
from leadml.storage import configs, tenants
from leadml.storage.bulk import insert_funnel
from leadml.synth import SyntheticFunnel, generate_funnel
from leadml.synth.frames import to_feature_frames
from leadml.synth.generator import ACTIVITY_COLUMNS, ATTRIBUTE_COLUMNS, LEAD_COLUMNS, OUTCOME_COLUMNS
from leadml.synth.names import FREE_DOMAINS
from leadml.synth.writer import write_funnel

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")
DT = pl.Datetime("ms", "UTC")


@pytest.fixture(scope="module")
def funnel():
    return generate_funnel(6_000, seed=11, now=NOW)


def _with_outcomes(funnel) -> pl.DataFrame:
    """Activities with their lead's createdAt and (when closed) outcome time."""
    leads = funnel.leads.select("externalId", "createdAt")
    outcomes = funnel.outcomes.select(pl.col("leadExternalId").alias("externalId"), "status", "at")
    return funnel.activities.join(
        leads.join(outcomes, on="externalId", how="left"), left_on="leadExternalId", right_on="externalId"
    )


def test_same_seed_same_funnel_other_seed_other_funnel():
    a = generate_funnel(1_500, seed=4, now=NOW)
    b = generate_funnel(1_500, seed=4, now=NOW)
    c = generate_funnel(1_500, seed=5, now=NOW)
    for name in ("leads", "activities", "outcomes"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert not a.leads.equals(c.leads)
    assert not a.activities.equals(c.activities)


def test_edge_cases():
    empty = generate_funnel(0, now=NOW)
    assert empty.leads.columns == LEAD_COLUMNS + ATTRIBUTE_COLUMNS and len(empty.activities) == 0
    assert empty.activities.schema["occurredAt"] == DT and empty.outcomes.schema["at"] == DT
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_funnel(10, now=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="before"):
        generate_funnel(10, start=NOW, now=NOW)


def test_columns_and_types_follow_the_import_format(funnel):
    leads, activities, outcomes = funnel.leads, funnel.activities, funnel.outcomes
    assert leads.columns == LEAD_COLUMNS + ATTRIBUTE_COLUMNS
    assert activities.columns == ACTIVITY_COLUMNS
    assert outcomes.columns == OUTCOME_COLUMNS
    assert leads.schema["createdAt"] == DT and activities.schema["occurredAt"] == DT and outcomes.schema["at"] == DT
    assert leads.schema["sequenceActive"] == pl.Boolean and leads.schema["sequenceStep"] == pl.Int64
    assert leads.schema["pipelineValue"] == pl.Float64 and leads.schema["employees"] == pl.Int64
    # Every lead has a unique, valid, lower-case email and a unique externalId.
    assert leads["email"].null_count() == 0 and leads["email"].n_unique() == len(leads)
    assert leads["email"].str.contains(r"^[a-z0-9.]+@[a-z0-9-]+(\.[a-z]+)+$").all()
    assert leads["externalId"].str.contains(r"^SYN-\d{7}$").all() and leads["externalId"].n_unique() == len(leads)
    assert activities["eventId"].n_unique() == len(activities) and activities["eventId"].null_count() == 0
    assert set(activities["leadExternalId"].unique()) <= set(leads["externalId"])
    assert set(outcomes["status"].unique()) == {"converted", "lost"}
    assert outcomes["leadExternalId"].n_unique() == len(outcomes)
    # Tags are ";"-joined words (possibly none).
    assert leads["tags"].str.contains(r"^([a-z0-9-]+(;[a-z0-9-]+)*)?$").all()


def test_profiles_cover_domains_titles_companies_and_phones(funnel):
    leads = funnel.leads
    domain = leads["email"].str.split("@").list.get(1)
    free = domain.is_in(FREE_DOMAINS).mean()
    edu = domain.str.contains(r"\.(edu|ac)(\.[a-z]+)?$").mean()
    gov = domain.str.contains(r"\.(gov|gc)(\.[a-z]+)?$").mean()
    assert 0.25 < free < 0.45 and 0.02 < edu < 0.1 and 0.02 < gov < 0.1
    titles = set(leads["title"].drop_nulls())
    for title in ("Chief Executive Officer", "CEO", "Founder", "Vice President of Sales", "SVP Marketing",
                  "Director of IT", "Head of Growth", "Marketing Manager", "Team Lead", "Analyst", "Student"):
        assert title in titles
    assert 0.05 < leads["title"].null_count() / len(leads) < 0.3
    companies = leads["company"].drop_nulls()
    for form in ("Inc.", "Corp.", "GmbH", "Ltd", "LLC"):
        assert companies.str.ends_with(" " + form).any(), form
    assert 0.2 < leads["phone"].null_count() / len(leads) < 0.8
    assert leads["phone"].drop_nulls().str.contains(r"^\+\d{1,2} \d{3} \d{7}$").all()
    for attribute in ATTRIBUTE_COLUMNS:
        assert leads[attribute].null_count() < len(leads)


def test_sequence_enrollment_is_consistent(funnel):
    leads = funnel.leads.join(funnel.outcomes.select(pl.col("leadExternalId").alias("externalId"), "status"),
                              on="externalId", how="left")
    enrolled = leads.filter(pl.col("sequenceName").is_not_null())
    assert 0.5 < len(enrolled) / len(leads) < 0.9
    assert enrolled["sequenceStep"].null_count() == 0 and enrolled["sequenceTotal"].null_count() == 0
    assert (enrolled["sequenceStep"] < enrolled["sequenceTotal"]).all()
    not_enrolled = leads.filter(pl.col("sequenceName").is_null())
    assert not_enrolled["sequenceStep"].null_count() == len(not_enrolled)
    assert not not_enrolled["sequenceActive"].any()
    # Closed leads have left their sequence; some open ones are still in theirs.
    assert not leads.filter(pl.col("status").is_not_null())["sequenceActive"].any()
    assert leads.filter(pl.col("status").is_null())["sequenceActive"].any()
    # The step matches the nurture emails actually sent (step 0 = the first one).
    sent = funnel.activities.filter((pl.col("type") == "email_sent") & (pl.col("source") == "nurture"))
    sent = sent.group_by("leadExternalId").agg(pl.len().alias("sent"))
    check = enrolled.join(sent, left_on="externalId", right_on="leadExternalId", how="inner")
    assert (check["sequenceStep"] == check["sent"] - 1).all()


def test_no_activity_before_creation_after_now_or_after_the_outcome(funnel):
    joined = _with_outcomes(funnel)
    assert (joined["occurredAt"] >= joined["createdAt"]).all()
    assert (joined["occurredAt"] <= NOW).all()
    closed = joined.filter(pl.col("at").is_not_null())
    assert (closed["occurredAt"] <= closed["at"]).all()
    created = funnel.leads["createdAt"]
    assert created.min() >= NOW - timedelta(days=365) and created.max() <= NOW
    outcomes = funnel.outcomes.join(funnel.leads.select("externalId", "createdAt"),
                                    left_on="leadExternalId", right_on="externalId")
    assert (outcomes["at"] > outcomes["createdAt"]).all() and (outcomes["at"] <= NOW).all()


def test_directions_and_types(funnel):
    acts = funnel.activities
    assert set(acts["type"].unique()) == set(KNOWN_ACTIVITY_TYPES)
    assert set(acts["direction"].unique()) == {"inbound", "outbound"}
    assert (acts.filter(pl.col("type") == "email_sent")["direction"] == "outbound").all()
    outbound_types = set(acts.filter(pl.col("direction") == "outbound")["type"].unique())
    assert outbound_types == {"email_sent", "call"}  # sales calls; the lead's own calls are inbound
    assert acts.filter((pl.col("type") == "call") & (pl.col("direction") == "inbound")).height > 0


def test_rates_volumes_and_censoring(funnel):
    n = len(funnel.leads)
    closed = len(funnel.outcomes)
    converted = funnel.outcomes.filter(pl.col("status") == "converted")
    assert 0.10 <= len(converted) / closed <= 0.20
    assert 0.05 < (n - closed) / n < 0.3  # still-open (censored) leads
    assert 15 <= len(funnel.activities) / n <= 25
    assert converted["value"].null_count() == 0 and (converted["value"] > 0).all()
    assert funnel.outcomes.filter(pl.col("status") == "lost")["value"].null_count() == closed - len(converted)
    # Days to close vary with the lead (not a constant delay).
    days = funnel.outcomes.join(funnel.leads.select("externalId", "createdAt"), left_on="leadExternalId",
                                right_on="externalId").select(((pl.col("at") - pl.col("createdAt")).dt.total_days()))
    assert days.to_series().std() > 10


def test_buyers_act_in_office_hours_and_tyre_kickers_in_the_evening(funnel):
    inbound = funnel.activities.filter(pl.col("direction") == "inbound").join(
        funnel.leads.select("externalId", "email"), left_on="leadExternalId", right_on="externalId")
    inbound = inbound.with_columns(
        free=pl.col("email").str.split("@").list.get(1).is_in(FREE_DOMAINS),
        office=pl.col("occurredAt").dt.hour().is_between(9, 17),
        weekend=pl.col("occurredAt").dt.weekday() >= 6,
    )
    shares = inbound.group_by("free").agg(pl.col("office").mean(), pl.col("weekend").mean()).sort("free")
    corporate, free = shares.row(0, named=True), shares.row(1, named=True)
    assert corporate["office"] > free["office"] + 0.15
    assert free["weekend"] > corporate["weekend"] + 0.05


def test_converting_leads_burst_before_they_convert(funnel):
    joined = _with_outcomes(funnel).filter(pl.col("direction") == "inbound", pl.col("at").is_not_null())
    last_days = joined.filter(pl.col("at") - pl.col("occurredAt") <= timedelta(days=3))
    per_lead = last_days.group_by("leadExternalId", "status").len()
    share_with_burst = per_lead.filter(pl.col("len") >= 3).group_by("status").len()
    closed = funnel.outcomes.group_by("status").len()
    rates = share_with_burst.join(closed, on="status").with_columns(rate=pl.col("len") / pl.col("len_right"))
    rate = dict(zip(rates["status"], rates["rate"], strict=True))
    assert rate["converted"] > 2 * rate.get("lost", 0.0)


def _lead_aggregates(funnel) -> tuple[np.ndarray, np.ndarray]:
    """Plain per-lead aggregates of closed leads, as of their outcome."""
    inbound = funnel.activities.filter(pl.col("direction") == "inbound")
    counts = inbound.group_by("leadExternalId").agg(
        *[(pl.col("type") == t).sum().alias(t) for t in KNOWN_ACTIVITY_TYPES if t != "email_sent"],
        pl.col("occurredAt").max().alias("last"),
    )
    data = (
        funnel.outcomes.join(funnel.leads, left_on="leadExternalId", right_on="externalId")
        .join(counts, on="leadExternalId", how="left")
        .with_columns(
            pl.col(t).fill_null(0) for t in KNOWN_ACTIVITY_TYPES if t != "email_sent"
        )
        .with_columns(
            quiet_days=((pl.col("at") - pl.col("last")).dt.total_hours() / 24).fill_null(365),
            free=pl.col("email").str.split("@").list.get(1).is_in(FREE_DOMAINS),
            employees=pl.col("employees").fill_null(-1),
            has_company=pl.col("company").is_not_null(),
            has_phone=pl.col("phone").is_not_null(),
            senior=pl.col("title").fill_null("").str.contains(r"(?i)chief|ceo|founder|president|vp|director|head"),
            no_title=pl.col("title").is_null(),
            referral=pl.col("leadSource").is_in(["referral", "partner", "event"]),
        )
    )
    features = ["email_open", "email_click", "page_view", "form_submit", "meeting", "call", "quiet_days", "free",
                "employees", "has_company", "has_phone", "senior", "no_title", "referral"]
    x = data.select(pl.col(features).cast(pl.Float64)).to_numpy()
    return x, (data["status"] == "converted").to_numpy()


def test_conversion_is_non_linear_in_the_features():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    x, y = _lead_aggregates(generate_funnel(20_000, seed=21, now=NOW))
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x_train, y_train)
    boosted = HistGradientBoostingClassifier(max_depth=4, max_iter=150, learning_rate=0.1, random_state=0)
    with threadpool_limits(1):  # OpenMP threads spin badly on a busy machine
        boosted.fit(x_train, y_train)
    auc_linear = roc_auc_score(y_test, linear.predict_proba(x_test)[:, 1])
    auc_boosted = roc_auc_score(y_test, boosted.predict_proba(x_test)[:, 1])
    assert auc_linear > 0.7  # the data carries signal a simple score can find ...
    assert auc_boosted > auc_linear + 0.03, (auc_boosted, auc_linear)  # ... and more a tree model can


def test_feature_frames_match_the_feature_contract(funnel):
    leads, activities, outcomes = to_feature_frames(funnel)
    for name, dtype in LEAD_SCHEMA.items():
        assert leads.schema[name] == dtype, name
    assert {"attr.industry", "attr.leadSource", "attr.country", "attr.employees"} <= set(leads.columns)
    assert dict(activities.schema) == ACTIVITY_SCHEMA
    assert len(activities) == len(funnel.activities) and len(outcomes) == len(funnel.outcomes)
    first = funnel.activities.row(0, named=True)
    assert leads["lead_id"][funnel.leads["externalId"].index_of(first["leadExternalId"])] == activities["lead_id"][0]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_written_files_read_back(funnel, tmp_path, fmt):
    paths = write_funnel(funnel, tmp_path / fmt, fmt)
    assert sorted(p.name for p in paths.values()) == sorted(f"{n}.{fmt}" for n in ("leads", "activities", "outcomes"))
    if fmt == "csv":
        leads = pl.read_csv(paths["leads"], infer_schema=False)
        acts = pl.read_csv(paths["activities"], infer_schema=False)
        outcomes = pl.read_csv(paths["outcomes"], infer_schema=False)
        assert leads["createdAt"].str.contains(ISO.pattern).all()
        assert acts["occurredAt"].str.contains(ISO.pattern).all()
        assert outcomes["at"].str.contains(ISO.pattern).all()
        assert set(leads["sequenceActive"].unique()) == {"true", "false"}
        parsed = acts["occurredAt"].str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", time_unit="ms").dt.convert_time_zone("UTC")
        assert parsed.equals(funnel.activities["occurredAt"], check_names=False)
    else:
        leads = pl.read_parquet(paths["leads"])
        acts = pl.read_parquet(paths["activities"])
        assert leads.equals(funnel.leads) and acts.equals(funnel.activities)
    assert leads.columns == funnel.leads.columns and len(acts) == len(funnel.activities)


def _tenant_and_config(engine) -> tuple[int, int]:
    sessions = db.make_session_factory(engine)
    with db.transaction(sessions) as session:
        tenant, _key = tenants.create_tenant(session, name="synth")
        config = configs.create_config(session, tenant_id=tenant.id, values={"name": "synthetic"})
        return tenant.id, config.id


@pytest.mark.parametrize("through", ["engine", "connection"])
def test_insert_funnel_round_trips(engine, through):
    small = generate_funnel(800, seed=3, now=NOW)
    tenant_id, config_id = _tenant_and_config(engine)
    seen: list[tuple[str, int, int]] = []

    def load(funnel, **kwargs):
        if through == "engine":  # its own connection and transaction (ADBC on a SQLite file)
            return insert_funnel(engine, funnel, tenant_id=tenant_id, config_id=config_id, **kwargs)
        with engine.begin() as conn:  # inside the caller's transaction (executemany / COPY)
            return insert_funnel(conn, funnel, tenant_id=tenant_id, config_id=config_id, **kwargs)

    counts = load(small, progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert counts == {"leads": 800, "activities": len(small.activities), "outcomes": len(small.outcomes)}
    assert seen[-1] == ("activities", len(small.activities), len(small.activities))
    with engine.connect() as conn:
        q = lambda sql: conn.execute(text(sql), {"c": config_id}).all()  # noqa: E731
        assert q("SELECT count(*) FROM leads WHERE config_id = :c")[0][0] == 800
        assert q("SELECT count(*) FROM activities WHERE config_id = :c")[0][0] == len(small.activities)
        by_status = dict(q("SELECT outcome_status, count(*) FROM leads WHERE config_id = :c GROUP BY outcome_status"))
        expected = dict(small.outcomes.group_by("status").len().iter_rows())
        assert by_status == {**expected, "open": 800 - len(small.outcomes)}
        # Activities hang off the right lead, with the same times (epoch ms) and event ids.
        per_lead = dict(q("SELECT l.external_id, count(*) FROM activities a JOIN leads l ON l.id = a.lead_id "
                          "WHERE a.config_id = :c GROUP BY l.external_id"))
        assert per_lead == dict(small.activities.group_by("leadExternalId").len().iter_rows())
        first = small.activities.row(0, named=True)
        stored = conn.execute(text("SELECT a.occurred_at, a.type, a.direction, a.campaign, l.external_id "
                                   "FROM activities a JOIN leads l ON l.id = a.lead_id WHERE a.event_id = :e"),
                              {"e": first["eventId"]}).one()
        assert tuple(stored) == (int(first["occurredAt"].timestamp() * 1000), first["type"], first["direction"],
                                 first["campaign"], first["leadExternalId"])
        lead = small.leads.row(1, named=True)
        row = conn.execute(text("SELECT tags, attributes, created_at, sequence_active, email, sequence_step, "
                                "outcome_at FROM leads WHERE external_id = :x"), {"x": lead["externalId"]}).one()
        tags = json.loads(row[0]) if isinstance(row[0], str) else row[0]
        attributes = json.loads(row[1]) if isinstance(row[1], str) else row[1]
        assert tags == (lead["tags"].split(";") if lead["tags"] else [])
        assert attributes == {k: lead[k] for k in ATTRIBUTE_COLUMNS if lead[k] is not None}
        assert row[2] == int(lead["createdAt"].timestamp() * 1000) and bool(row[3]) == lead["sequenceActive"]
        assert row[4] == lead["email"] and row[5] == lead["sequenceStep"]
        outcome = small.outcomes.filter(pl.col("leadExternalId") == lead["externalId"])
        assert row[6] == (int(outcome["at"][0].timestamp() * 1000) if len(outcome) else None)
    # Loading the same leads again is refused up front ...
    with pytest.raises(errors.Conflict):
        load(small)
    # ... and a clash found half-way (same emails under new ids) leaves nothing behind.
    renamed = SyntheticFunnel(
        leads=small.leads.with_columns(pl.col("externalId").str.replace("SYN-", "ALT-")),
        activities=small.activities.with_columns(pl.col("leadExternalId").str.replace("SYN-", "ALT-")),
        outcomes=small.outcomes.with_columns(pl.col("leadExternalId").str.replace("SYN-", "ALT-")),
        now=small.now, seed=small.seed,
    )
    with pytest.raises(errors.Conflict):
        load(renamed)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM leads")).scalar() == 800
        assert conn.execute(text("SELECT count(*) FROM activities")).scalar() == len(small.activities)


def test_cli_writes_files_and_loads_a_config(tmp_path, monkeypatch):
    from leadml.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("LEADML_DATABASE_URL", url)
    runner = CliRunner()
    result = runner.invoke(app, ["synth", "--leads", "300", "--out", str(tmp_path / "out"), "--format", "parquet"])
    assert result.exit_code == 0, result.output
    assert "300 leads" in result.stdout
    assert (tmp_path / "out" / "activities.parquet").exists()

    result = runner.invoke(app, ["synth", "--leads", "300", "--config", "99"])
    assert result.exit_code == 1 and "not found" in result.output
    result = runner.invoke(app, ["synth", "--leads", "300"])
    assert result.exit_code == 1 and "--out" in result.output

    engine = db.make_engine(url)
    _tenant_id, config_id = _tenant_and_config(engine)
    result = runner.invoke(app, ["synth", "--leads", "300", "--config", str(config_id), "--seed", "2"])
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM leads WHERE config_id = :c"), {"c": config_id}).scalar() == 300
        activities = conn.execute(text("SELECT count(*) FROM activities")).scalar()
    assert f"{activities:,} activities" in result.stdout
    engine.dispose()


def test_files_import_with_the_import_command(tmp_path, monkeypatch):
    """The files are exactly what `leadml import` reads: nothing is rejected."""
    from leadml.cli import app

    monkeypatch.setenv("LEADML_DATABASE_URL", f"sqlite:///{tmp_path / 'import.db'}")
    small = generate_funnel(150, seed=8, now=NOW)
    paths = write_funnel(small, tmp_path / "files", "csv")
    runner = CliRunner()
    assert runner.invoke(app, ["tenant", "create", "acme"]).exit_code == 0
    created = runner.invoke(app, ["config", "create", "--tenant", "acme", "--name", "main"])
    config_id = created.stdout.strip().splitlines()[-1]
    for kind in ("leads", "activities", "outcomes"):
        result = runner.invoke(app, ["import", kind, str(paths[kind]), "--config", config_id])
        assert result.exit_code == 0, result.output
        rows = {"leads": len(small.leads), "activities": len(small.activities), "outcomes": len(small.outcomes)}[kind]
        assert f"{rows} rows: {rows} stored" in result.output and "0 rejected" in result.output, result.output
