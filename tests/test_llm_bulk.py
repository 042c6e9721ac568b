"""The LLM step over many leads (what the bulk job and ranked-leads call), and `leadml llm preview`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from llm_server import LlmServer
from typer.testing import CliRunner

from leadml import db
from leadml.config import Settings
from leadml.predict.result import Thresholds
from leadml.predict.rules import predict_rules
from leadml.scoring import llm
from leadml.scoring.llm_client import LlmService
from leadml.storage import configs, tenants
from leadml.storage.tables import ScoringConfig

COST_PER_CALL = (1000 * 0.15 + 200 * 0.60) / 1e6


@pytest.fixture
def llm_server():
    server = LlmServer().start()
    yield server
    server.stop()


def _service(server, **overrides) -> LlmService:
    values = dict(database_url="sqlite://unused", llm_base_url=server.url, llm_api_key="k",
                  llm_retry_backoff_seconds=0.0, llm_timeout_seconds=5.0)
    values.update(overrides)
    return LlmService.from_settings(Settings(**values))


def _items(n: int) -> list[llm.BatchItem]:
    items = []
    for i in range(n):
        features = {"hasCompany": True, "hasTitle": i % 2 == 0, "emailDomainType": "corporate",
                    "titleSeniority": "director", "totalActivities": i, "emailOpenCount": i,
                    "daysSinceCreated": 10.0 + i, "daysSinceLastActivity": 1.0 if i else None, "recencyScore": 60.0}
        lead = {"title": f"Director {i}", "company": f"Company {i}", "email": f"person{i}@example.com",
                "name": f"Person {i}"}
        items.append(llm.BatchItem(predict_rules(features, thresholds=Thresholds()), features, lead))
    return items


CONFIG = ScoringConfig(id=1, tenant_id=7, name="c", llm_enabled=True, llm_mode="narrative")


def test_a_batch_accounts_for_every_call_and_its_cost(llm_server):
    narrations, usage = llm.narrate_batch(_service(llm_server), config=CONFIG, tenant=7, items=_items(12),
                                          thresholds=Thresholds())
    assert len(narrations) == 12 and all(n.metadata["status"] == "ok" for n in narrations)
    assert [n.result.probability for n in narrations] == [i.result.probability for i in _items(12)]
    summary = usage.to_dict()
    assert summary["llmCalls"] == 12 == len(llm_server.requests) and summary["llmNarrated"] == 12
    assert summary["llmTokens"] == 12 * 1200
    assert summary["llmEstimatedCost"] == pytest.approx(12 * COST_PER_CALL)
    assert summary["llmFallbacks"] == {}


def test_the_circuit_breaker_stops_a_bulk_job_hammering_a_failing_endpoint(llm_server):
    llm_server.mode = "500"
    service = _service(llm_server, llm_breaker_failures=3, llm_retries=1, llm_bulk_concurrency=4)
    narrations, usage = llm.narrate_batch(service, config=CONFIG, tenant=7, items=_items(40), thresholds=Thresholds())
    reasons = [n.metadata["fallbackReason"] for n in narrations]
    assert all(n.result.source == "rules" and n.metadata["status"] == "fallback" for n in narrations)
    # At most the threshold plus the calls already in flight reach the endpoint (each with its retry).
    assert reasons.count("server_error") <= 3 + 4 - 1
    assert reasons.count("circuit_open") >= 40 - (3 + 4 - 1)
    assert len(llm_server.requests) == 2 * reasons.count("server_error") == usage.requests
    assert usage.to_dict()["llmFallbacks"] == {"server_error": reasons.count("server_error"),
                                               "circuit_open": reasons.count("circuit_open")}
    assert usage.cost == 0
    # Another tenant's breaker is its own.
    assert service.guards[8].admit() is None and service.guards[7].state == "open"


def test_a_breaker_recovers_after_the_cooldown_with_one_trial(llm_server):
    llm_server.mode = "500"
    service = _service(llm_server, llm_breaker_failures=2, llm_retries=0, llm_breaker_cooldown_seconds=0.2)
    llm.narrate_batch(service, config=CONFIG, tenant=7, items=_items(5), thresholds=Thresholds(), max_workers=1)
    assert len(llm_server.requests) == 2
    llm_server.mode = "correct"
    import time
    time.sleep(0.25)
    narrations, usage = llm.narrate_batch(service, config=CONFIG, tenant=7, items=_items(3), thresholds=Thresholds(),
                                          max_workers=1)
    assert [n.metadata["status"] for n in narrations] == ["ok", "ok", "ok"]


def test_ranking_insights_send_numbers_only(llm_server):
    rankings = [{"leadId": i, "email": f"p{i}@acme.com", "name": f"Pat {i}", "company": "Acme", "title": "CEO",
                 "priorityRank": i, "priorityTier": "top", "priorityScore": 90 - i, "conversionProbability": 0.8 - i / 100,
                 "scoreLevel": "HOT", "score": 70, "predictedDays": 20, "reasoning": "Pat is great"}
                for i in range(1, 6)]
    insights = {"topLeadCount": 5, "avgConversionProbability": 0.77, "commonPatterns": ["c-level titles"]}
    out, meta = llm.narrate_ranking_insights(_service(llm_server), config=CONFIG, tenant=7, rankings=rankings,
                                             insights=insights)
    raw = llm_server.raw()
    for secret in ("acme", "Pat 1", "CEO", "great"):
        assert secret.lower() not in raw.lower(), secret
    assert meta["status"] == "ok" and meta["mode"] == "insights" and meta["estimatedCost"] == pytest.approx(COST_PER_CALL)
    assert out["topLeadCount"] == 5 and out["avgConversionProbability"] == 0.77
    assert out["commonPatterns"] == ["decision makers with recent meetings"] and out["summary"]
    llm_server.mode = "malformed"
    out, meta = llm.narrate_ranking_insights(_service(llm_server), config=CONFIG, tenant=7, rankings=rankings,
                                             insights=insights)
    assert out == insights and meta["status"] == "fallback" and meta["fallbackReason"] == "malformed_output"
    disabled = ScoringConfig(id=2, tenant_id=7, name="d", llm_enabled=False, llm_mode="narrative")
    out, meta = llm.narrate_ranking_insights(_service(llm_server), config=disabled, tenant=7, rankings=rankings,
                                             insights=insights)
    assert out == insights and meta["status"] == "not_used" and meta["tokensUsed"] == 0


def test_preview_prints_the_exact_request_without_sending(tmp_path, monkeypatch, llm_server):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("LEADML_DATABASE_URL", url)
    monkeypatch.setenv("LEADML_LLM_BASE_URL", llm_server.url)
    monkeypatch.setenv("LEADML_LLM_API_KEY", "secret-key-123")
    monkeypatch.setenv("LEADML_LLM_SEND_LEAD_FIELDS", '["title"]')
    from leadml import migrate
    from leadml.cli import app
    from leadml.scoring import predict
    from leadml.storage.tables import Lead

    engine = db.make_engine(url)
    migrate.upgrade(engine)
    sessions = db.make_session_factory(engine)
    now = datetime.now(UTC)
    with db.transaction(sessions) as session:
        tenant, _key = tenants.create_tenant(session, name="t")
        config = configs.create_config(session, tenant_id=tenant.id, values={"name": "c", "llm_enabled": True})
        session.add(Lead(tenant_id=tenant.id, config_id=config.id, email="kim@corp.example", name="Kim Lee",
                         phone="+44 20 7946 0958", title="Head of Growth (kim@corp.example)", company="Corp",
                         created_at=now - timedelta(days=3), updated_at=now - timedelta(days=3)))
    result = CliRunner().invoke(app, ["llm", "preview", "--lead", "1"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert llm_server.requests == []  # nothing was sent
    assert shown["url"] == llm_server.url + "/chat/completions" and "secret-key-123" not in result.stdout
    document = json.loads(shown["body"]["messages"][1]["content"])
    assert document["leadText"] == {"title": "Head of Growth ([redacted])"}
    for secret in ("kim@", "Kim Lee", "7946", "Corp\""):
        assert secret not in result.stdout, secret
    # What a real prediction sends is what the preview showed (time-dependent figures aside).
    with db.transaction(sessions) as session:
        predict.predict_lead(session, tenant_id=None, lead_id=1, llm_service=LlmService.from_settings(Settings()))
    sent = llm_server.bodies()[0]
    assert {k: v for k, v in sent.items() if k != "messages"} == {k: v for k, v in shown["body"].items()
                                                                  if k != "messages"}
    assert sent["messages"][0] == shown["body"]["messages"][0]
    sent_doc = json.loads(sent["messages"][1]["content"])
    assert sent_doc["leadText"] == document["leadText"] and sent_doc["facts"].keys() == document["facts"].keys()
    assert sent_doc["facts"]["profile"] == document["facts"]["profile"]
    missing = CliRunner().invoke(app, ["llm", "preview", "--lead", "99"])
    assert missing.exit_code == 1
    engine.dispose()
