"""The CLI walk-through a new user takes: tenant, config, import a real export, list it."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from conftest import shared_data
from leadml import db
from leadml.cli import app
from leadml.storage import leads as lead_store


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("LEADML_DATABASE_URL", url)
    runner = CliRunner()
    result = runner.invoke(app, ["tenant", "create", "acme"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("lml_")
    result = runner.invoke(app, ["config", "create", "--tenant", "acme", "--name", "main"])
    assert result.exit_code == 0, result.output
    return runner, url, int(result.stdout.strip().splitlines()[-1])


def _count(url, config_id):
    engine = db.make_engine(url)
    with db.transaction(db.make_session_factory(engine)) as session:
        rows, total = lead_store.list_leads(session, config_id=config_id, limit=5, offset=0)
        first = rows[0] if rows else None
        return total, (first.external_id, dict(first.attributes)) if first else None


def test_import_x_education_with_typed_attributes(cli_env):
    runner, url, config_id = cli_env
    path = shared_data("x-education-leads", "Leads.csv")
    result = runner.invoke(app, ["import", "leads", str(path), "--config", str(config_id), "--map", "externalId=Prospect ID"])
    assert result.exit_code == 0, result.output
    assert "9240 rows: 9240 stored (9240 created, 0 updated), 0 rejected" in result.output
    total, (external_id, attributes) = _count(url, config_id)
    assert total == 9240
    assert external_id == "7927b2df-8bba-4d29-b9a2-b6e0beafe620"
    assert attributes["Lead Number"] == 660737 and isinstance(attributes["TotalVisits"], int)
    assert attributes["Lead Origin"] == "API" and "Prospect ID" not in attributes
    # importing again updates instead of duplicating
    again = runner.invoke(app, ["import", "leads", str(path), "--config", str(config_id), "--map", "externalId=Prospect ID"])
    assert "(0 created, 9240 updated)" in again.output
    assert _count(url, config_id)[0] == 9240


def test_bad_rows_are_reported_not_dropped(cli_env, tmp_path):
    runner, url, config_id = cli_env
    leads = tmp_path / "leads.csv"
    leads.write_text("Email,External ID,Company,Industry\nann@acme.com,A1,Acme Inc.,saas\n,,NoId Corp,retail\n"
                     "not-an-email,A3,Bad,x\nbo@corp.com,A4,Corp,42\n")
    result = runner.invoke(app, ["import", "leads", str(leads), "--config", str(config_id)])
    assert result.exit_code == 0, result.output
    assert "4 rows: 2 stored (2 created, 0 updated), 2 rejected" in result.output
    rejected = list(csv.DictReader((tmp_path / "leads.csv.rejected.csv").open()))
    assert [r["row"] for r in rejected] == ["3", "4"]
    assert "email or an externalId" in rejected[0]["reason"] and "valid email" in rejected[1]["reason"]
    assert rejected[1]["Company"] == "Bad"
    activities = tmp_path / "activities.csv"
    activities.write_text("leadExternalId,type,occurredAt,eventId\nA1,page_view,2026-01-01T10:00:00Z,e1\n"
                          "ZZ,page_view,2026-01-01T10:00:00Z,e2\nA4,meeting,2026-01-02T10:00:00Z,e3\n"
                          "A1,page_view,2026-01-01T10:00:00Z,e1\nA1,call,not a date,e4\n")
    result = runner.invoke(app, ["import", "activities", str(activities), "--config", str(config_id)])
    assert "5 rows: 2 stored, 1 duplicates skipped, 2 rejected" in result.output, result.output
    rejected = list(csv.DictReader((tmp_path / "activities.csv.rejected.csv").open()))
    assert {r["row"]: r["reason"] for r in rejected} == {"3": "no such lead in this config",
                                                          "6": rejected[1]["reason"]}
    assert "occurredAt" in rejected[1]["reason"]
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("leadExternalId,status,at\nA1,converted,2030-01-01T00:00:00Z\nA4,maybe,2030-01-01T00:00:00Z\n")
    result = runner.invoke(app, ["import", "outcomes", str(outcomes), "--config", str(config_id)])
    assert "2 rows: 1 stored, 1 rejected" in result.output, result.output


def test_clear_errors_for_bad_invocations(cli_env, tmp_path):
    runner, _url, config_id = cli_env
    leads = tmp_path / "leads.csv"
    leads.write_text("email\na@a.com\n")
    result = runner.invoke(app, ["import", "leads", str(leads), "--config", "999"])
    assert result.exit_code == 1 and "scoring config 999 not found" in result.output
    result = runner.invoke(app, ["import", "leads", str(leads), "--config", str(config_id), "--map", "externalId=Nope"])
    assert result.exit_code == 1 and "column(s) not in the file" in result.output
    result = runner.invoke(app, ["import", "leads", str(leads), "--config", str(config_id), "--map", "bogus=email"])
    assert result.exit_code == 1 and "unknown field" in result.output
    result = runner.invoke(app, ["tenant", "create", "acme"])
    assert result.exit_code == 1 and "already exists" in result.output


def test_predict_from_the_cli_uses_the_same_use_case(cli_env, tmp_path):
    import json

    runner, _url, config_id = cli_env
    leads = tmp_path / "leads.csv"
    leads.write_text("email,title,company,createdAt\nceo@acme.com,CEO,Acme Inc.,2026-01-01T00:00:00Z\n")
    runner.invoke(app, ["import", "leads", str(leads), "--config", str(config_id)])
    result = runner.invoke(app, ["predict", "--lead", "1", "--json"])
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)
    assert first["cached"] is False and first["prediction"]["source"] == "rules"
    again = json.loads(runner.invoke(app, ["predict", "--lead", "1", "--json"]).stdout)
    assert again["cached"] is True and again["prediction"] == first["prediction"]
    table = runner.invoke(app, ["predict", "--lead", "1"])
    assert table.exit_code == 0 and "probability" in table.stdout
    missing = runner.invoke(app, ["predict", "--lead", "99"])
    assert missing.exit_code == 1 and "lead 99 not found" in missing.output
    bad = runner.invoke(app, ["predict", "--lead", "1", "--type", "FOO"])
    assert bad.exit_code == 1 and "unknown prediction type" in bad.output
