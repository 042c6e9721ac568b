"""The bulk scoring pipeline, its job and endpoint, and the rankings read from what it stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update

from leadml import db, errors
from leadml.jobs import runner
from leadml.jobs.bulk import KIND, bulk_work, interrupted_jobs, refresh_due, requeue, schedule_bulk
from leadml.scoring import bulk
from leadml.scoring.predict import predict_lead
from leadml.storage import configs, tenants
from leadml.storage.bulk import insert_funnel
from leadml.storage.tables import Job, Lead, Prediction
from leadml.synth import generate_funnel

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _load(engine, sessions, n=400, seed=3, name="t"):
    with db.transaction(sessions) as session:
        tenant, key = tenants.create_tenant(session, name=f"{name}-{seed}-{n}")
        config = configs.create_config(session, tenant_id=tenant.id, values={"name": "bulk"})
        ids = tenant.id, config.id
    funnel = generate_funnel(n, seed=seed, now=NOW)
    with engine.begin() as connection:  # through the engine's own driver
        insert_funnel(connection, funnel, tenant_id=ids[0], config_id=ids[1])
    return ids[0], ids[1], {"Authorization": f"Bearer {key}"}


def _open_ids(sessions, config_id):
    with db.transaction(sessions) as session:
        return set(session.scalars(select(Lead.id).where(Lead.config_id == config_id, Lead.is_active.is_(True),
                                                         Lead.outcome_status == "open")))


def _active(sessions, config_id):
    with db.transaction(sessions) as session:
        return session.execute(select(Prediction.lead_id, Prediction.probability, Prediction.confidence,
                                      Prediction.predicted_days, Prediction.score_level, Prediction.priority_tier)
                               .where(Prediction.config_id == config_id, Prediction.status == "ACTIVE",
                                      Prediction.type == "CONVERSION")).all()


def _run(engine, sessions, config_id, request, now=NOW, **kwargs):
    with db.transaction(sessions) as session:
        config = configs.get_config(session, tenant_id=None, config_id=config_id)
        plan = bulk.plan(session, config=config, request=request, now=now)
    return plan, bulk.run(engine, sessions, plan, request=request, **kwargs)


def test_bulk_scores_every_open_active_lead_once_and_agrees_with_the_single_lead_path(engine, sessions):
    _tenant, config_id, _ = _load(engine, sessions)
    with db.transaction(sessions) as session:  # one inactive lead must be left out
        inactive = session.scalar(select(Lead.id).where(Lead.config_id == config_id, Lead.outcome_status == "open"))
        session.execute(update(Lead).where(Lead.id == inactive).values(is_active=False))
    wanted = _open_ids(sessions, config_id)
    assert inactive not in wanted and len(wanted) > 20
    now = datetime.now(UTC)
    _plan, summary = _run(engine, sessions, config_id, bulk.BulkRequest(limit=None, chunk_leads=17), now=now)
    rows = _active(sessions, config_id)
    assert summary.successful == len(wanted) == len(rows)
    assert {r.lead_id for r in rows} == wanted
    # The single-lead rules path gives the same numbers for the same lead and moment.
    by_lead = {r.lead_id: r for r in rows}
    for lead_id in sorted(wanted)[:5]:
        with db.transaction(sessions) as session:
            doc = predict_lead(session, tenant_id=None, lead_id=lead_id, force_refresh=True, now=now).document
        stored = by_lead[lead_id]
        assert doc["probability"] == pytest.approx(stored.probability, abs=1e-6)
        assert doc["confidence"] == pytest.approx(stored.confidence, abs=1e-4)
        assert doc["predictedDays"] == pytest.approx(stored.predicted_days, abs=0.05)
        assert doc["predictedScoreLevel"] == stored.score_level
        assert doc["priorityTier"] == stored.priority_tier
    # Still one ACTIVE prediction per lead after the single-lead writes.
    assert len(_active(sessions, config_id)) == len(wanted)


def test_a_second_run_reuses_fresh_predictions_unless_forced(engine, sessions):
    _tenant, config_id, _ = _load(engine, sessions, n=200)
    now = datetime.now(UTC)
    _run(engine, sessions, config_id, bulk.BulkRequest(limit=None), now=now)
    plan, summary = _run(engine, sessions, config_id, bulk.BulkRequest(limit=None), now=now + timedelta(hours=1))
    assert plan.to_score == [] and summary.reused == len(_open_ids(sessions, config_id))
    plan, summary = _run(engine, sessions, config_id, bulk.BulkRequest(limit=None, force_refresh=True),
                         now=now + timedelta(hours=2))
    assert summary.successful == len(_open_ids(sessions, config_id))
    with db.transaction(sessions) as session:
        lead_id = plan.to_score[0]
        session.execute(update(Lead).where(Lead.id == lead_id).values(updated_at=now + timedelta(hours=3)))
    plan, _ = _run(engine, sessions, config_id, bulk.BulkRequest(limit=None), now=now + timedelta(hours=4))
    assert plan.to_score == [lead_id]  # only the lead whose data changed since it was scored


def test_a_crashed_job_resumes_after_its_last_whole_chunk(engine, sessions, monkeypatch):
    _tenant, config_id, _ = _load(engine, sessions, n=300)
    wanted = _open_ids(sessions, config_id)
    with db.transaction(sessions) as session:
        config = configs.get_config(session, tenant_id=None, config_id=config_id)
        job_id = schedule_bulk(session, config=config, request=bulk.BulkRequest(limit=None, chunk_leads=10)).id
    real = bulk.score_chunk
    calls = {"n": 0}

    def crash_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("the process died here")
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk, "score_chunk", crash_on_third)
    first = runner.run(sessions, job_id, bulk_work(engine, sessions, job_id))
    assert first.status == "failed"
    assert len(_active(sessions, config_id)) == 20  # two whole chunks, nothing of the third
    with db.transaction(sessions) as session:  # as if the process had died while running
        job = session.get(Job, job_id)
        job.status, job.worker = "running", None  # no live worker: another process may resume it
    with db.transaction(sessions) as session:
        assert [j.id for j in interrupted_jobs(session)] == [job_id]
        requeue(session, session.get(Job, job_id))
    monkeypatch.setattr(bulk, "score_chunk", real)
    second = runner.run(sessions, job_id, bulk_work(engine, sessions, job_id))
    assert second.status == "succeeded", second.error
    assert second.result["resumed"] is True
    assert second.result["processed"] == len(wanted) and second.result["successful"] == len(wanted) - 20
    rows = _active(sessions, config_id)
    assert len(rows) == len({r.lead_id for r in rows}) == len(wanted)


def test_cancelling_stops_after_whole_chunks(engine, sessions, monkeypatch):
    _tenant, config_id, _ = _load(engine, sessions, n=300)
    with db.transaction(sessions) as session:
        config = configs.get_config(session, tenant_id=None, config_id=config_id)
        job_id = schedule_bulk(session, config=config, request=bulk.BulkRequest(limit=None, chunk_leads=10)).id
    real = bulk.score_chunk
    calls = {"n": 0}

    def cancel_during_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            with db.transaction(sessions) as session:
                runner.cancel(session, session.get(Job, job_id))
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk, "score_chunk", cancel_during_second)
    job = runner.run(sessions, job_id, bulk_work(engine, sessions, job_id))
    assert job.status == "cancelled"
    assert len(_active(sessions, config_id)) == 10


def test_one_bulk_job_per_config(engine, sessions):
    _tenant, config_id, _ = _load(engine, sessions, n=50)
    with db.transaction(sessions) as session:
        config = configs.get_config(session, tenant_id=None, config_id=config_id)
        schedule_bulk(session, config=config, request=bulk.BulkRequest(limit=None))
    with db.transaction(sessions) as session, pytest.raises(errors.Conflict):
        schedule_bulk(session, config=configs.get_config(session, tenant_id=None, config_id=config_id),
                      request=bulk.BulkRequest(limit=None))


def test_refresh_interval_is_off_by_default_and_due_when_set(engine, sessions):
    _tenant, config_id, _ = _load(engine, sessions, n=30)
    with db.transaction(sessions) as session:
        assert refresh_due(session) == []
        config = configs.get_config(session, tenant_id=None, config_id=config_id)
        configs.update_config(session, config=config, values={"refresh_interval_hours": 6})
    with db.transaction(sessions) as session:
        assert [c.id for c in refresh_due(session)] == [config_id]
        job = schedule_bulk(session, config=configs.get_config(session, tenant_id=None, config_id=config_id),
                            request=bulk.BulkRequest(limit=None))
        job.status, job.created_at = "succeeded", datetime.now(UTC) - timedelta(hours=1)
    with db.transaction(sessions) as session:
        assert refresh_due(session) == []
        assert [c.id for c in refresh_due(session, now=datetime.now(UTC) + timedelta(hours=6))] == [config_id]


# --- HTTP ------------------------------------------------------------------------------------------


def test_bulk_predict_endpoint_sync_async_and_conflict(client, engine, sessions, app):
    _tenant, config_id, headers = _load(engine, sessions, n=300, name="api")
    base = f"/api/lead-scoring/{config_id}/ml/bulk-predict"
    r = client.post(base, json={"limit": 5}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["processed"] == 5 and body["successful"] == 5 and body["failed"] == 0
    first = body["predictions"][0]
    assert set(first) == {"leadId", "result", "error"} and first["error"] is None
    result = first["result"]
    for key in ("probability", "confidence", "predictedDays", "confidenceInterval", "predictedScore",
                "scoreBreakdown", "predictedScoreLevel", "priorityScore", "priorityTier", "topPositiveReasons",
                "explanation", "predictionId", "llmMetadata", "confidenceMeaning", "riskFactors"):
        assert key in result
    # The same prediction is what GET .../ml/prediction returns.
    got = client.get(f"/api/lead-scoring/leads/{first['leadId']}/ml/prediction", headers=headers).json()
    assert got["prediction"]["predictionId"] == result["predictionId"] == got["id"]
    # minScore keeps only leads whose current score reaches it, best first.
    r = client.post(base, json={"limit": 100, "minScore": 50}, headers=headers)
    scores = [p["result"]["predictedScore"] for p in r.json()["predictions"]]
    assert all(s >= 50 for s in scores) and scores == sorted(scores, reverse=True)
    # Bad input is a 4xx and changes nothing.
    assert client.post(base, json={"limit": 0}, headers=headers).status_code == 422
    assert client.post(base, json={"limit": 5, "bogus": 1}, headers=headers).status_code == 422
    # Another tenant's config is 404.
    _t2, _c2, other = _load(engine, sessions, n=5, seed=9, name="other")
    assert client.post(base, json={"limit": 5}, headers=other).status_code == 404
    # Large, all or async: a job.
    with db.transaction(sessions) as session:  # hold the config's slot so that the next request conflicts
        config = configs.get_config(session, tenant_id=None, config_id=config_id)
        blocker = schedule_bulk(session, config=config, request=bulk.BulkRequest(limit=None)).id
    r = client.post(base, json={"all": True}, headers=headers)
    assert r.status_code == 409 and r.json()["code"]
    with db.transaction(sessions) as session:
        session.get(Job, blocker).status = "cancelled"
    r = client.post(base, json={"all": True, "forceRefresh": True}, headers=headers)
    assert r.status_code == 202, r.text
    job_id = r.json()["jobId"]
    app.state.jobs.wait(job_id, timeout=120)
    job = client.get(f"/api/lead-scoring/jobs/{job_id}", headers=headers).json()
    assert job["status"] == "succeeded", job
    assert job["kind"] == KIND and job["processed"] == job["total"] == len(_open_ids(sessions, config_id))
    assert job["rate"] > 0 and job["etaSeconds"] == 0
    assert client.post(base, json={"limit": 3, "async": True}, headers=headers).status_code == 202


def test_rankings_read_stored_predictions_with_paging_tiers_and_insights(client, engine, sessions):
    _tenant, config_id, headers = _load(engine, sessions, n=400, name="rank")
    _run(engine, sessions, config_id, bulk.BulkRequest(limit=None), now=datetime.now(UTC))
    wanted = _open_ids(sessions, config_id)
    base = f"/api/lead-scoring/{config_id}/ml"
    r = client.get(f"{base}/ranked-leads?limit=10", headers=headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [x["priorityRank"] for x in page["rankings"]] == list(range(1, 11))
    assert page["insights"]["rankedLeadCount"] == len(wanted)
    scores = [x["priorityScore"] for x in page["rankings"]]
    assert scores == sorted(scores, reverse=True)
    assert isinstance(page["llmMetadata"], dict) and page["llmMetadata"]["model"] == "computed"
    with db.transaction(sessions) as session:
        top = session.scalar(select(func.count()).select_from(Prediction).where(
            Prediction.config_id == config_id, Prediction.status == "ACTIVE", Prediction.priority_tier == "top"))
        mean = session.scalar(select(func.avg(Prediction.probability)).where(
            Prediction.config_id == config_id, Prediction.status == "ACTIVE"))
    assert page["insights"]["topLeadCount"] == top
    assert page["insights"]["avgConversionProbability"] == pytest.approx(mean, abs=1e-4)
    assert all(isinstance(p, str) and "%" in p for p in page["insights"]["commonPatterns"])
    second = client.get(f"{base}/ranked-leads?limit=10&offset=10", headers=headers).json()["rankings"]
    assert second[0]["priorityRank"] == 11 and not {x["leadId"] for x in second} & {x["leadId"] for x in page["rankings"]}
    filtered = client.get(f"{base}/ranked-leads?limit=1000&minProbability=0.5", headers=headers).json()
    assert all(x["conversionProbability"] >= 0.5 for x in filtered["rankings"])
    assert client.get(f"{base}/ranked-leads?limit=1001", headers=headers).status_code == 422
    for tier in ("top", "high", "medium", "low"):
        leads = client.get(f"{base}/leads-by-tier?tier={tier}", headers=headers).json()["leads"]
        assert all(x["priorityTier"] == tier for x in leads)
    r = client.get(f"{base}/leads-by-tier?tier=gold", headers=headers)
    assert r.status_code == 422 and "error" in r.json()
    # A lead that closes leaves the rankings at once (no re-scoring needed).
    leader = page["rankings"][0]["leadId"]
    with db.transaction(sessions) as session:
        session.execute(update(Lead).where(Lead.id == leader).values(outcome_status="lost"))
    top_leads = client.get(f"{base}/top-leads?n=5", headers=headers).json()["leads"]
    assert leader not in {x["leadId"] for x in top_leads}


def test_tier_bands_are_configurable_per_config(client, engine, sessions):
    _tenant, config_id, headers = _load(engine, sessions, n=200, name="bands")
    r = client.patch(f"/api/lead-scoring/configs/{config_id}", headers=headers,
                     json={"priorityTopBand": 40, "priorityHighBand": 30, "priorityMediumBand": 10})
    assert r.status_code == 200 and r.json()["priorityTopBand"] == 40
    bad = client.patch(f"/api/lead-scoring/configs/{config_id}", headers=headers,
                       json={"priorityTopBand": 20, "priorityHighBand": 30})
    assert bad.status_code in (400, 422)
    _run(engine, sessions, config_id, bulk.BulkRequest(limit=None), now=datetime.now(UTC))
    with db.transaction(sessions) as session:
        rows = session.execute(select(Prediction.priority_score, Prediction.priority_tier).where(
            Prediction.config_id == config_id, Prediction.status == "ACTIVE")).all()
    for score, tier in rows:
        expected = "top" if score >= 40 else "high" if score >= 30 else "medium" if score >= 10 else "low"
        assert tier == expected


def test_sqlite_counts_survive_a_fresh_connection(sqlite_engine):
    """Everything written by a bulk run is visible to a new connection (no lost WAL writes)."""
    sessions = db.make_session_factory(sqlite_engine)
    _tenant, config_id, _ = _load(sqlite_engine, sessions, n=300, name="wal")
    with db.transaction(sessions) as session:
        config = configs.get_config(session, tenant_id=None, config_id=config_id)
        plan = bulk.plan(session, config=config, request=bulk.BulkRequest(limit=None), now=datetime.now(UTC))
    plan.total_leads = 1  # force the whole-config pass (the separate feature process)
    bulk.run(sqlite_engine, sessions, plan, request=bulk.BulkRequest(limit=None, chunk_leads=40))
    fresh = db.make_engine(str(sqlite_engine.url))
    with fresh.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM predictions WHERE status = 'ACTIVE'")).scalar()
    fresh.dispose()
    assert count == len(_open_ids(sessions, config_id))
