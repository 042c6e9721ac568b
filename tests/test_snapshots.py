"""Leads imported with their outcomes (snapshots): reading outcomes, the API field, training rows,
hold-out, and the clear failures of import, train and evaluate."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from leadml import db
from leadml.cli import app
from leadml.scoring import training
from leadml.scoring.training_data import build_training_data
from leadml.storage import configs, tenants
from leadml.storage.tables import Lead

BASE = "/api/lead-scoring"


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("LEADML_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(app, ["tenant", "create", "acme"]).exit_code == 0
    result = runner.invoke(app, ["config", "create", "--tenant", "acme", "--name", "main"])
    return runner, url, int(result.stdout.strip().splitlines()[-1])


def _leads(url: str) -> dict[str, Lead]:
    engine = db.make_engine(url)
    with db.transaction(db.make_session_factory(engine)) as session:
        rows = {lead.external_id: lead for lead in session.query(Lead).all()}
    engine.dispose()
    return rows


def test_import_with_outcomes_reads_rejects_with_reasons_and_never_makes_the_outcome_a_feature(cli_env, tmp_path):
    runner, url, config_id = cli_env
    path = tmp_path / "export.csv"
    path.write_text("id,Source,Won,Created,Closed\n"
                    "L1,web,yes,2025-01-01,2025-02-01\n"
                    "L2,ads,no,2025-01-05,\n"
                    "L3,web,maybe,2025-01-05,2025-02-01\n"
                    "L4,web,,2025-01-05,\n"
                    "L5,event,1,,\n"
                    "L6,web,open,2025-03-01,\n"
                    "L7,web,yes,2025-03-01,2025-01-01\n"
                    "L8,web,yes,2025-03-01,not a date\n")
    result = runner.invoke(app, ["import", "leads", str(path), "--config", str(config_id), "--map", "externalId=id",
                                 "--outcome-column", "Won", "--created-column", "Created", "--closed-column", "Closed"])
    assert result.exit_code == 0, result.output
    assert "8 rows: 4 stored (4 created, 0 updated), 4 rejected" in result.output
    assert "outcomes: 2 converted, 1 lost, 1 open" in result.output
    assert "outcome: 'Won', 'Closed' (never a feature)" in " ".join(result.output.split())
    rejected = {r["row"]: r["reason"] for r in csv.DictReader((tmp_path / "export.csv.rejected.csv").open())}
    assert "'maybe' in column 'Won' is neither converted nor lost" in rejected["4"]
    assert "--positive" in rejected["4"]
    assert rejected["5"] == "no outcome: column 'Won' is empty"
    assert "before the lead was created" in rejected["8"]
    assert "outcome.at" in rejected["9"]
    leads = _leads(url)
    assert set(leads) == {"L1", "L2", "L5", "L6"}
    assert all(set(lead.attributes) == {"Source"} for lead in leads.values())
    assert (leads["L1"].outcome_status, leads["L1"].snapshot) == ("converted", "timed")
    assert leads["L1"].outcome_at.date().isoformat() == "2025-02-01"
    assert (leads["L2"].outcome_status, leads["L2"].snapshot) == ("lost", "dated")
    assert leads["L2"].outcome_at == leads["L2"].created_at  # no close date: closed when created
    assert (leads["L5"].outcome_status, leads["L5"].snapshot) == ("converted", "undated")
    assert (leads["L6"].outcome_status, leads["L6"].snapshot, leads["L6"].outcome_at) == ("open", None, None)

    # --positive names the converted value; any other value is lost, "open" stays open.
    other = tmp_path / "stages.csv"
    other.write_text("externalId,Stage\nS1,Closed Won\nS2,Closed Lost\nS3,Negotiation\nS4,Open\n")
    result = runner.invoke(app, ["import", "leads", str(other), "--config", str(config_id), "--outcome-column", "Stage",
                                 "--positive", "closed won"])
    assert result.exit_code == 0, result.output
    assert "outcomes: 1 converted, 2 lost, 1 open" in result.output
    leads = _leads(url)
    assert [leads[k].outcome_status for k in ("S1", "S2", "S3", "S4")] == ["converted", "lost", "lost", "open"]
    assert "Stage" not in leads["S1"].attributes


def test_import_warns_about_a_column_that_gives_the_outcome_away(cli_env, tmp_path):
    runner, url, config_id = cli_env
    rng = np.random.default_rng(0)
    converted = rng.random(400) < 0.4
    rows = ["externalId,Converted,Rep note,Visits,Country"]
    for i, c in enumerate(converted):
        note = rng.choice(["Closed by rep", "Will enrol"]) if c else rng.choice(["Ringing", "Not interested"])
        rows.append(f"X{i},{int(c)},{note},{rng.integers(0, 9)},{rng.choice(['IN', 'US', 'Select'])}")
    path = tmp_path / "export.csv"
    path.write_text("\n".join(rows) + "\n")
    result = runner.invoke(app, ["import", "leads", str(path), "--config", str(config_id), "--outcome-column",
                                 "Converted", "--na-values", "Select"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "column 'Rep note' nearly gives the outcome away" in text and "AUC 1.000" in text
    assert "--exclude 'Rep note'" in text
    assert "'Visits'" not in text and "'Country'" not in text
    assert all("Country" not in lead.attributes or lead.attributes["Country"] != "Select" for lead in _leads(url).values())
    # Without --outcome-column, a column that looks like the outcome is pointed out.
    result = runner.invoke(app, ["import", "leads", str(path), "--config", str(config_id)])
    assert "column 'Converted' looks like the outcome" in " ".join(result.output.split())
    # --exclude leaves the column out entirely (a fresh config: re-imports merge attributes, never erase them).
    fresh = runner.invoke(app, ["config", "create", "--tenant", "acme", "--name", "without note"])
    fresh_id = int(fresh.stdout.strip().splitlines()[-1])
    result = runner.invoke(app, ["import", "leads", str(path), "--config", str(fresh_id), "--outcome-column",
                                 "Converted", "--exclude", "Rep note"])
    assert result.exit_code == 0 and "nearly gives" not in result.output
    assert all("Rep note" not in lead.attributes for lead in _leads(url).values())


def test_leads_api_takes_an_outcome_per_lead(client, make_tenant):
    headers = make_tenant()
    config = client.post(f"{BASE}/configs", json={"name": "export"}, headers=headers).json()
    body = {"leads": [
        {"externalId": "A", "attributes": {"plan": "pro"}, "outcome": {"status": "converted"}},
        {"externalId": "B", "createdAt": "2025-01-01T00:00:00Z",
         "outcome": {"status": "lost", "at": "2025-02-01T00:00:00Z", "value": 0}},
    ]}
    response = client.post(f"{BASE}/{config['id']}/leads", json=body, headers=headers)
    assert response.status_code == 200, response.text
    a, b = response.json()["leads"]
    assert a["outcome"]["status"] == "converted" and a["outcome"]["at"] is not None
    assert b["outcome"]["status"] == "lost" and b["outcome"]["at"].startswith("2025-02-01")
    bad = client.post(f"{BASE}/{config['id']}/leads", headers=headers, json={"leads": [
        {"externalId": "C", "outcome": {"status": "converted"}},
        {"externalId": "D", "createdAt": "2025-03-01T00:00:00Z", "outcome": {"status": "lost", "at": "2025-01-01"}},
    ]})
    assert bad.status_code == 422, bad.text
    assert bad.json()["details"][0]["index"] == 1 and "before the lead was created" in bad.json()["details"][0]["message"]
    unreadable = client.post(f"{BASE}/{config['id']}/leads", headers=headers,
                             json={"leads": [{"externalId": "E", "outcome": {"status": "maybe"}}]})
    assert unreadable.status_code == 422 and "outcome" in unreadable.text
    listed = client.get(f"{BASE}/{config['id']}/leads", headers=headers).json()
    assert listed["total"] == 2  # nothing of the refused batches was stored


def _world(sessions, *, now: datetime):
    """Live leads with activities and dates, plus undated snapshot leads, in one config."""
    with db.transaction(sessions) as session:
        tenant, _ = tenants.create_tenant(session, name="mix")
        config = configs.create_config(session, tenant_id=tenant.id, values={"name": "mix"})
        rng = np.random.default_rng(1)
        for i in range(120):  # live, closed long ago
            created = now - timedelta(days=400 - i)
            won = bool(rng.random() < 0.4) or i % 10 == 0
            session.add(Lead(tenant_id=tenant.id, config_id=config.id, external_id=f"live{i}", tags=[],
                             attributes={"plan": "pro" if won else "free"}, created_at=created, updated_at=created,
                             is_active=True, sequence_active=False, outcome_status="converted" if won else "lost",
                             outcome_at=created + timedelta(days=200 if i % 10 == 0 else 20)))
        for i in range(200):  # snapshots of an export without dates
            won = bool(rng.random() < 0.4)
            session.add(Lead(tenant_id=tenant.id, config_id=config.id, external_id=f"snap{i}", tags=[],
                             attributes={"plan": "pro" if won else "free"}, created_at=now, updated_at=now,
                             is_active=True, sequence_active=False, outcome_status="converted" if won else "lost",
                             outcome_at=now, snapshot="undated"))
        return config.id


def test_training_mixes_point_in_time_and_snapshot_rows(engine, sessions):
    now = datetime(2026, 11, 1, tzinfo=UTC)
    config_id = _world(sessions, now=now)
    data = build_training_data(engine, config_id=config_id, timezone="UTC", horizon_days=90, now=now,
                               custom_attributes=None)
    assert data.summary["pointInTimeRows"] == 120 and data.summary["snapshotRows"]["undated"] == 200
    snap = ~data.dated
    assert snap.sum() == 200
    with db.transaction(sessions) as session:
        status = {lead.id: lead.outcome_status for lead in session.query(Lead).all()}
    converted = np.array([status[i] == "converted" for i in data.lead_ids])
    # A snapshot's label is its exported outcome; a live lead converted 200 days later is not within the horizon.
    assert (data.label[snap] == converted[snap]).all()
    live = ~snap & converted
    with db.transaction(sessions) as session:
        days = {lead.id: (lead.outcome_at - lead.created_at).days for lead in session.query(Lead).all()}
    to_close = np.array([days[i] for i in data.lead_ids])
    within = to_close - data.features["daysSinceCreated"].to_numpy() <= 90
    assert (data.label[live] == within[live]).all() and not within[live].all()
    assert np.isnan(data.duration_days[snap]).all()  # no time to close without dates
    assert (data.features.loc[snap, "daysSinceCreated"] == 0).all()
    labelled = data.label >= 0
    train, holdout, how = training.holdout_split(data.created_at_ms[labelled], data.dated[labelled],
                                                 data.label[labelled])
    assert how == "time + stratified random"
    dated = data.dated[labelled]
    assert holdout[dated].sum() == 24 and holdout[~dated].sum() == 40
    newest = np.sort(data.created_at_ms[labelled][dated])[-24:]
    assert set(data.created_at_ms[labelled][dated & holdout]) == set(newest)
    y = data.label[labelled]
    assert abs(y[~dated & holdout].mean() - y[~dated].mean()) < 0.03  # stratified
    result = training.train_config(engine, sessions, config_id=config_id, now=now)
    summary = result["summary"]
    assert summary["holdout"] == "time + stratified random" and summary["holdoutRows"] == 64
    assert result["timeToClose"].get("skipped") or result["timeToClose"]["metrics"]


def test_train_without_enough_outcomes_fails_in_one_readable_line(cli_env, tmp_path):
    runner, url, config_id = cli_env
    path = tmp_path / "leads.csv"
    path.write_text("externalId,Source\n" + "".join(f"L{i},web\n" for i in range(30)))
    assert runner.invoke(app, ["import", "leads", str(path), "--config", str(config_id)]).exit_code == 0
    result = runner.invoke(app, ["train", "--config", str(config_id)])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip() and not line.startswith("training ")]
    message = " ".join(lines)
    assert message.startswith("error: training failed: not enough outcomes to train: 0 converted and 0 not "
                              "converted"), result.output
    assert "found 30 leads: 0 converted, 0 lost, 30 open" in message
    assert "30 open leads are younger than the 90-day horizon" in message
    assert "--outcome-column" in message and "--min-converted" in message
    assert "Traceback" not in result.output
    assert runner.invoke(app, ["train", "--config", "999"]).output.strip() == "error: scoring config 999 not found"


@pytest.mark.parametrize("args, expected", [
    (["--outcome-column", "Nope"], "column(s) not in the file: ['Nope']"),
    (["--positive", "yes"], "--positive and --closed-column need --outcome-column COLUMN"),
    (["--outcome-column", "Won", "--exclude", "Nope"], "--exclude column(s) not in the file: ['Nope']"),
    (["--outcome-column", "Won", "--map", "name=Won"], "uses the outcome column"),
])
def test_import_failures_are_one_line(cli_env, tmp_path, args, expected):
    runner, _url, config_id = cli_env
    path = tmp_path / "leads.csv"
    path.write_text("externalId,Won\nA,1\n")
    result = runner.invoke(app, ["import", "leads", str(path), "--config", str(config_id), *args])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ") and expected in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_import_and_evaluate_refuse_unreadable_files(cli_env, tmp_path):
    runner, _url, config_id = cli_env
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00a,b\n\x81\x82,\x83\n")
    for path, words in ((empty, "empty.csv is empty"), (binary, "cannot read binary.csv")):
        result = runner.invoke(app, ["import", "leads", str(path), "--config", str(config_id)])
        assert result.exit_code == 1 and words in result.output, result.output
        result = runner.invoke(app, ["evaluate", str(path), "--target", "b"])
        assert result.exit_code == 1 and words in result.output, result.output
        assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("rows, args, expected", [
    ("a,won\n" + "x,1\n" * 30, ["--positive", "1"], "has 30 converted and 0 not converted rows; 5-fold"),
    ("a,won\n" + "x,1\ny,0\n" * 3, [], "needs at least 5 of each"),
    ("a,won\n" + "x,maybe\ny,no\nz,yes\n" * 3, [], "pass --positive VALUE"),
    ("t,won\n" + "".join(f"{t},{int(t <= 5)}\n" for t in range(1, 11)), ["--time-column", "t"],
     "the newest 20 % (test) holds only one of them"),
    ("a,won\nx,1\n", ["--exclude", "zz"], "Column 'zz' is not in the file"),
])
def test_evaluate_failures_are_one_line(tmp_path, rows, args, expected):
    path = tmp_path / "leads.csv"
    path.write_text(rows)
    result = CliRunner().invoke(app, ["evaluate", str(path), "--target", "won", *args])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ") and expected in " ".join(result.output.split())
    assert isinstance(result.exception, SystemExit)
