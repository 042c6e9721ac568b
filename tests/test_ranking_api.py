"""GET /{configId}/ml/top-leads: stored, current conversion predictions ranked by priority."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from leadml import db
from leadml.storage.tables import Prediction

BASE = "/api/lead-scoring"


def _iso(dt: datetime) -> str:
    return dt.isoformat()


@pytest.fixture
def world(client, make_tenant):
    """A config with leads from engaged decision makers down to a bare webmail address."""
    headers = make_tenant("ranker")
    config = client.post(f"{BASE}/configs", json={"name": "main"}, headers=headers).json()
    now = datetime.now(UTC)
    leads = client.post(f"{BASE}/{config['id']}/leads", json={"leads": [
        {"email": "ceo@acme-industries.com", "name": "Dana Chief", "title": "Chief Executive Officer",
         "company": "Acme Inc.", "phone": "+1 555 0100", "createdAt": _iso(now - timedelta(days=20))},
        {"email": "vp@globex.com", "name": "Vic Sales", "title": "VP of Sales", "company": "Globex",
         "createdAt": _iso(now - timedelta(days=15))},
        {"email": "intern@initech.com", "name": "Ian Tern", "title": "Intern", "company": "Initech",
         "createdAt": _iso(now - timedelta(days=60))},
        {"email": "someone@gmail.com", "createdAt": _iso(now - timedelta(hours=1))},
    ]}, headers=headers).json()["leads"]
    ids = [lead["id"] for lead in leads]
    kinds = ["email_open", "email_click", "page_view", "page_view", "form_submit", "meeting", "call"]
    activities = [{"leadId": ids[0], "type": t, "occurredAt": _iso(now - timedelta(days=6 - i, hours=2)),
                   "eventId": f"a{i}"} for i, t in enumerate(kinds)]
    activities += [{"leadId": ids[1], "type": t, "occurredAt": _iso(now - timedelta(days=3 - i)), "eventId": f"b{i}"}
                   for i, t in enumerate(["email_open", "page_view"])]
    accepted = client.post(f"{BASE}/{config['id']}/activities", json={"activities": activities}, headers=headers)
    assert accepted.status_code == 200, accepted.text
    return {"headers": headers, "config": config["id"], "ids": ids}


def _predict(client, headers, lead_id, **body):
    response = client.post(f"{BASE}/leads/{lead_id}/ml/predict", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["prediction"]


def test_predicted_leads_appear_ranked_by_priority(client, world):
    h, ids = world["headers"], world["ids"]
    assert client.get(f"{BASE}/{world['config']}/ml/top-leads", headers=h).json() == {"leads": []}
    docs = {lead_id: _predict(client, h, lead_id) for lead_id in ids[:3]}  # the webmail lead is never predicted
    body = client.get(f"{BASE}/{world['config']}/ml/top-leads", params={"n": 10}, headers=h)
    assert body.status_code == 200, body.text
    leads = body.json()["leads"]
    assert [lead["leadId"] for lead in leads] == sorted(docs, key=lambda i: -docs[i]["priorityScore"])
    assert [lead["priorityRank"] for lead in leads] == [1, 2, 3]
    assert leads[0]["leadId"] == ids[0] and leads[-1]["leadId"] == ids[2]  # engaged CEO first, idle intern last
    first, doc = leads[0], docs[ids[0]]
    assert first["email"] == "ceo@acme-industries.com" and first["name"] == "Dana Chief"
    assert first["company"] == "Acme Inc." and first["title"] == "Chief Executive Officer"
    assert first["conversionProbability"] == doc["probability"]
    assert first["priorityScore"] == doc["priorityScore"] and first["priorityTier"] == doc["priorityTier"]
    assert first["score"] == doc["predictedScore"] and first["scoreLevel"] == doc["predictedScoreLevel"]
    assert first["predictedDays"] == doc["predictedDays"]
    assert first["reasoning"] == doc["explanation"] and first["reasoning"]
    top_two = client.get(f"{BASE}/{world['config']}/ml/top-leads", params={"n": 2}, headers=h).json()["leads"]
    assert top_two == leads[:2]


def test_only_the_latest_current_prediction_counts(client, world, sessions):
    h, ids = world["headers"], world["ids"]
    for lead_id in ids[:2]:
        _predict(client, h, lead_id)
    _predict(client, h, ids[0], forceRefresh=True)  # a second prediction for the same lead: listed once
    _predict(client, h, ids[2], ruleBasedOnly=True)
    leads = client.get(f"{BASE}/{world['config']}/ml/top-leads", headers=h).json()["leads"]
    assert sorted(lead["leadId"] for lead in leads) == sorted(ids[:3])
    # An expired prediction and one marked inaccurate by feedback drop out of the ranking.
    with db.transaction(sessions) as session:
        session.execute(update(Prediction).where(Prediction.lead_id == ids[1])
                        .values(valid_until=datetime.now(UTC) - timedelta(minutes=1)))
    latest = client.get(f"{BASE}/leads/{ids[2]}/ml/prediction", headers=h).json()
    assert client.post(f"{BASE}/predictions/{latest['id']}/validate", json={"wasAccurate": False},
                       headers=h).status_code == 200
    leads = client.get(f"{BASE}/{world['config']}/ml/top-leads", headers=h).json()["leads"]
    assert [lead["leadId"] for lead in leads] == [ids[0]]


@pytest.mark.parametrize("n", ["0", "1001", "-3", "ten"])
def test_n_is_validated(client, world, n):
    response = client.get(f"{BASE}/{world['config']}/ml/top-leads", params={"n": n}, headers=world["headers"])
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_n_bounds_are_accepted(client, world):
    for n in (1, 1000):
        response = client.get(f"{BASE}/{world['config']}/ml/top-leads", params={"n": n}, headers=world["headers"])
        assert response.status_code == 200


def test_another_tenants_config_is_not_found(client, world, make_tenant):
    _predict(client, world["headers"], world["ids"][0])
    other = make_tenant("intruder")
    response = client.get(f"{BASE}/{world['config']}/ml/top-leads", headers=other)
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"error", "code", "details"} and body["code"] == "not_found"
    missing = client.get(f"{BASE}/999999/ml/top-leads", headers=world["headers"])
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert client.get(f"{BASE}/{world['config']}/ml/top-leads").status_code == 401
