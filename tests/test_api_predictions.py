"""The seed's per-lead ML endpoints with the rule engine: predict, cache, validate, accuracy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

BASE = "/api/lead-scoring"


def _iso(dt: datetime) -> str:
    return dt.isoformat()


@pytest.fixture
def world(client, make_tenant):
    """A tenant with a config, an engaged decision maker and a brand-new lead."""
    headers = make_tenant("alice")
    config = client.post(f"{BASE}/configs", json={"name": "main"}, headers=headers).json()
    now = datetime.now(UTC)
    leads = client.post(f"{BASE}/{config['id']}/leads", json={"leads": [
        {"email": "ceo@acme-industries.com", "name": "Dana", "title": "Chief Executive Officer", "company": "Acme Inc.",
         "phone": "+1 555 0100", "createdAt": _iso(now - timedelta(days=20))},
        {"email": "someone@gmail.com", "createdAt": _iso(now - timedelta(hours=1))},
    ]}, headers=headers).json()["leads"]
    engaged, new = leads[0]["id"], leads[1]["id"]
    kinds = ["email_sent", "email_open", "email_click", "page_view", "page_view", "form_submit", "meeting", "call"]
    activities = [{"leadId": engaged, "type": t, "occurredAt": _iso(now - timedelta(days=10 - i, hours=2)),
                   "eventId": f"ev{i}"} for i, t in enumerate(kinds)]
    client.post(f"{BASE}/{config['id']}/activities", json={"activities": activities}, headers=headers)
    return {"headers": headers, "config": config, "engaged": engaged, "new": new}


def test_predict_returns_the_seed_fields_and_the_cache_returns_every_one(client, world):
    h, lead = world["headers"], world["engaged"]
    fresh = client.post(f"{BASE}/leads/{lead}/ml/predict", json={}, headers=h)
    assert fresh.status_code == 200, fresh.text
    p = fresh.json()["prediction"]
    for field in ("predictionType", "probability", "confidence", "predictedValue", "predictedDays", "predictedScoreLevel",
                  "riskFactors", "explanation", "recommendations", "llmMetadata", "predictionId", "source", "modelVersion"):
        assert field in p, field
    assert p["predictionType"] == "CONVERSION" and p["source"] == "rules" and 0 < p["probability"] < 1
    assert fresh.json()["cached"] is False
    again = client.post(f"{BASE}/leads/{lead}/ml/predict", json={}, headers=h).json()
    assert again["cached"] is True and again["prediction"] == p
    stored = client.get(f"{BASE}/leads/{lead}/ml/prediction", params={"type": "CONVERSION"}, headers=h).json()
    assert stored["id"] == p["predictionId"] and stored["isExpired"] is False and stored["prediction"] == p
    refreshed = client.post(f"{BASE}/leads/{lead}/ml/predict", json={"forceRefresh": True}, headers=h).json()
    assert refreshed["cached"] is False and refreshed["prediction"]["predictionId"] != p["predictionId"]
    # ruleBasedOnly is part of the cache key
    rules_only = client.post(f"{BASE}/leads/{lead}/ml/predict", json={"ruleBasedOnly": True}, headers=h).json()
    assert rules_only["cached"] is False


def test_changing_the_lead_invalidates_the_cache(client, world):
    h, lead = world["headers"], world["new"]
    first = client.post(f"{BASE}/leads/{lead}/ml/predict", headers=h).json()
    client.patch(f"{BASE}/leads/{lead}", json={"title": "VP of Sales", "company": "Big Corp"}, headers=h)
    second = client.post(f"{BASE}/leads/{lead}/ml/predict", headers=h).json()
    assert second["cached"] is False and second["prediction"]["probability"] > first["prediction"]["probability"]


def test_time_and_score_endpoints(client, world):
    h, lead = world["headers"], world["engaged"]
    t = client.post(f"{BASE}/leads/{lead}/ml/predict-time", json={}, headers=h).json()["prediction"]
    assert t["predictionType"] == "TIME_TO_CLOSE"
    assert 7 <= t["confidenceInterval"]["low"] <= t["predictedDays"] <= t["confidenceInterval"]["high"] <= 180
    assert isinstance(t["factors"], list) and t["factors"] and isinstance(t["accelerationOpportunities"], list)
    s = client.post(f"{BASE}/leads/{lead}/ml/predict-score", json={}, headers=h).json()["prediction"]
    assert s["predictionType"] == "SCORE" and 0 <= s["predictedScore"] <= 100
    assert set(s["scoreBreakdown"]) == {"demographic", "behavioral", "temporal", "engagement"}
    assert abs(sum(s["scoreBreakdown"].values()) - s["predictedScore"]) < 0.1
    stored = client.get(f"{BASE}/leads/{lead}/ml/prediction", params={"type": "SCORE"}, headers=h).json()
    assert stored["prediction"] == s
    missing = client.get(f"{BASE}/leads/{lead}/ml/prediction", params={"type": "PRIORITY"}, headers=h)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_new_lead_is_not_warm_and_engaged_decision_maker_ranks_higher(client, world):
    h = world["headers"]
    new = client.post(f"{BASE}/leads/{world['new']}/ml/predict", headers=h).json()["prediction"]
    engaged = client.post(f"{BASE}/leads/{world['engaged']}/ml/predict", headers=h).json()["prediction"]
    assert new["predictedScoreLevel"] in ("COLD", "DEAD")
    assert engaged["probability"] > new["probability"]
    assert not any(r["factor"].lower().startswith("decision maker") for r in engaged["riskFactors"])


def test_config_thresholds_decide_the_level(client, world):
    h, lead, config = world["headers"], world["engaged"], world["config"]
    p = client.post(f"{BASE}/leads/{lead}/ml/predict", headers=h).json()["prediction"]["probability"] * 100
    hot_below = max(1.0, p - 1)
    client.patch(f"{BASE}/configs/{config['id']}", json={"hotThreshold": hot_below, "warmThreshold": min(hot_below, 1),
                                                         "coldThreshold": 0}, headers=h)
    hot = client.post(f"{BASE}/leads/{lead}/ml/predict", json={"forceRefresh": True}, headers=h).json()["prediction"]
    assert hot["predictedScoreLevel"] == "HOT"
    client.patch(f"{BASE}/configs/{config['id']}", json={"hotThreshold": 100, "warmThreshold": 100,
                                                         "coldThreshold": 100}, headers=h)
    dead = client.post(f"{BASE}/leads/{lead}/ml/predict", json={"forceRefresh": True}, headers=h).json()["prediction"]
    assert dead["predictedScoreLevel"] == "DEAD"


def test_validation_is_tenant_checked_and_accuracy_is_consistent(client, world, make_tenant):
    h, lead = world["headers"], world["engaged"]
    conv = client.post(f"{BASE}/leads/{lead}/ml/predict", headers=h).json()["prediction"]["predictionId"]
    time_id = client.post(f"{BASE}/leads/{lead}/ml/predict-time", headers=h).json()["prediction"]["predictionId"]
    score_id = client.post(f"{BASE}/leads/{lead}/ml/predict-score", headers=h).json()["prediction"]["predictionId"]
    mallory = make_tenant("mallory")
    refused = client.post(f"{BASE}/predictions/{conv}/validate", json={"wasAccurate": False}, headers=mallory)
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    assert client.post(f"{BASE}/predictions/{conv}/validate", json={"wasAccurate": True}, headers=h).json() == {"success": True}
    client.post(f"{BASE}/predictions/{time_id}/validate", json={"wasAccurate": False}, headers=h)
    assert client.post(f"{BASE}/predictions/{conv}/validate", json={"wasAccurate": "maybe"}, headers=h).status_code == 422
    acc = client.get(f"{BASE}/{world['config']['id']}/ml/accuracy", headers=h).json()
    assert acc["totalPredictions"] == 3 and acc["validatedCount"] == 2 and acc["accurateCount"] == 1
    assert acc["accuracy"] == 0.5
    assert acc["byType"]["CONVERSION"] == {"total": 1, "validated": 1, "accurate": 1, "accuracy": 1.0}
    assert acc["byType"]["TIME_TO_CLOSE"]["accuracy"] == 0.0 and acc["byType"]["SCORE"]["accuracy"] is None
    assert score_id  # unvalidated predictions count in the total only
    stored = client.get(f"{BASE}/leads/{lead}/ml/prediction", params={"type": "CONVERSION"}, headers=h).json()
    assert stored["id"] == conv
    mallory_config = client.post(f"{BASE}/configs", json={"name": "m"}, headers=mallory).json()
    assert client.get(f"{BASE}/{world['config']['id']}/ml/accuracy", headers=mallory).status_code == 404
    assert client.get(f"{BASE}/{mallory_config['id']}/ml/accuracy", headers=mallory).json()["totalPredictions"] == 0
    assert client.post(f"{BASE}/leads/{lead}/ml/predict", headers=mallory).status_code == 404


def test_accuracy_date_range(client, world):
    h, config_id = world["headers"], world["config"]["id"]
    client.post(f"{BASE}/leads/{world['engaged']}/ml/predict", headers=h)
    today = datetime.now(UTC).date()
    inside = client.get(f"{BASE}/{config_id}/ml/accuracy", params={"startDate": str(today), "endDate": str(today)},
                        headers=h).json()
    assert inside["totalPredictions"] == 1
    before = client.get(f"{BASE}/{config_id}/ml/accuracy", params={"endDate": str(today - timedelta(days=1))}, headers=h)
    assert before.json()["totalPredictions"] == 0


@pytest.mark.parametrize("path,params", [
    ("/leads/{lead}/ml/prediction", {"type": "FOO"}),
    ("/{config}/ml/accuracy", {"startDate": "2026-13-01"}),
    ("/{config}/ml/accuracy", {"endDate": "yesterday"}),
    ("/{config}/ml/accuracy", {"startDate": "2026-02-01", "endDate": "2026-01-01"}),
    ("/leads/abc/ml/prediction", {}),
])
def test_invalid_query_values_are_4xx_never_500(client, world, path, params):
    url = BASE + path.format(lead=world["engaged"], config=world["config"]["id"])
    response = client.get(url, params=params, headers=world["headers"])
    assert response.status_code in (400, 422), response.text
    assert set(response.json()) == {"error", "code", "details"}


def test_predict_rejects_bad_bodies(client, world):
    h, lead = world["headers"], world["engaged"]
    assert client.post(f"{BASE}/leads/{lead}/ml/predict", json={"forceRefresh": "often"}, headers=h).status_code == 422
    assert client.post(f"{BASE}/leads/{lead}/ml/predict", json={"unknown": 1}, headers=h).status_code == 422
    assert client.post(f"{BASE}/leads/999999/ml/predict", json={}, headers=h).status_code == 404
