"""Foundation API: auth, tenants, configs, leads, activities, outcomes — on SQLite and PostgreSQL."""

from __future__ import annotations

BASE = "/api/lead-scoring"


def _error_shape(response, status, code=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code", "details"}, body
    if code:
        assert body["code"] == code, body
    return body


def _config(client, headers, **extra):
    response = client.post(f"{BASE}/configs", json={"name": "main", **extra}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_health_ready_metrics_need_no_key(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}
    client.get("/health")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'leadml_http_requests_total{method="GET",route="/health",status="200"}' in metrics.text
    assert client.get("/openapi.json").json()["info"]["title"] == "leadml"


def test_every_route_needs_a_valid_key(client):
    _error_shape(client.get(f"{BASE}/configs"), 401, "unauthorized")
    _error_shape(client.get(f"{BASE}/configs", headers={"Authorization": "Bearer nope"}), 401, "unauthorized")


def test_config_crud_and_validation(client, make_tenant):
    headers = make_tenant()
    config = _config(client, headers, timezone="Europe/Berlin", hotThreshold=70)
    assert config["hotThreshold"] == 70 and config["warmThreshold"] == 50 and config["timezone"] == "Europe/Berlin"
    assert config["predictionValidityDays"] == 7 and config["horizonDays"] == 90
    patched = client.patch(f"{BASE}/configs/{config['id']}", json={"warmThreshold": 40}, headers=headers).json()
    assert patched["warmThreshold"] == 40 and patched["hotThreshold"] == 70
    assert [c["id"] for c in client.get(f"{BASE}/configs", headers=headers).json()["configs"]] == [config["id"]]
    _error_shape(client.post(f"{BASE}/configs", json={"name": "x", "timezone": "Mars/Olympus"}, headers=headers), 422)
    _error_shape(client.post(f"{BASE}/configs", json={"name": "x", "hotThreshold": 150}, headers=headers), 422)
    # warm above hot is refused and changes nothing
    _error_shape(client.patch(f"{BASE}/configs/{config['id']}", json={"warmThreshold": 90}, headers=headers), 422)
    assert client.get(f"{BASE}/configs/{config['id']}", headers=headers).json()["warmThreshold"] == 40
    _error_shape(client.patch(f"{BASE}/configs/{config['id']}", json={"bogus": 1}, headers=headers), 422)


def test_tenants_never_see_each_other(client, make_tenant):
    alice, bob = make_tenant("alice"), make_tenant("bob")
    config = _config(client, alice)
    lead = client.post(f"{BASE}/{config['id']}/leads", json={"leads": [{"email": "a@acme.com"}]}, headers=alice).json()
    lead_id = lead["leads"][0]["id"]
    _error_shape(client.get(f"{BASE}/configs/{config['id']}", headers=bob), 404, "not_found")
    _error_shape(client.get(f"{BASE}/{config['id']}/leads", headers=bob), 404)
    _error_shape(client.get(f"{BASE}/leads/{lead_id}", headers=bob), 404)
    _error_shape(client.patch(f"{BASE}/leads/{lead_id}", json={"name": "x"}, headers=bob), 404)
    _error_shape(client.post(f"{BASE}/leads/{lead_id}/outcome", json={"status": "lost"}, headers=bob), 404)
    _error_shape(client.post(f"{BASE}/{config['id']}/leads", json={"leads": [{"email": "b@b.com"}]}, headers=bob), 404)
    activity = {"leadId": lead_id, "type": "page_view", "occurredAt": "2026-01-01T10:00:00Z"}
    bob_config = _config(client, bob)
    # bob cannot attach activities to alice's lead through his own config either
    _error_shape(client.post(f"{BASE}/{bob_config['id']}/activities", json={"activities": [activity]}, headers=bob), 422)
    assert client.get(f"{BASE}/{config['id']}/leads", headers=alice).json()["total"] == 1
    assert client.get(f"{BASE}/configs", headers=bob).json()["configs"][0]["id"] == bob_config["id"]


def test_lead_upsert_by_email_or_external_id(client, make_tenant):
    headers = make_tenant()
    config = _config(client, headers)
    url = f"{BASE}/{config['id']}/leads"
    first = client.post(url, json={"leads": [
        {"email": "Ann@Acme.com", "name": "Ann", "company": "Acme Inc.", "attributes": {"employees": 250, "industry": "saas"}},
        {"externalId": "CRM-1", "title": "VP Sales", "createdAt": "2026-01-05T09:00:00+01:00"},
    ]}, headers=headers).json()
    assert (first["created"], first["updated"]) == (2, 0)
    ann, crm = first["leads"]
    assert ann["email"] == "ann@acme.com" and ann["attributes"] == {"employees": 250, "industry": "saas"}
    assert crm["externalId"] == "CRM-1" and crm["createdAt"].startswith("2026-01-05T08:00:00")
    second = client.post(url, json={"leads": [
        {"email": "ann@acme.com", "attributes": {"country": "DE"}},
        {"externalId": "CRM-1", "email": "vp@corp.com"},
        {"externalId": "CRM-2", "email": "new@corp.com"},
    ]}, headers=headers).json()
    assert (second["created"], second["updated"]) == (1, 2)
    assert [lead["id"] for lead in second["leads"][:2]] == [ann["id"], crm["id"]]
    assert second["leads"][0]["attributes"] == {"employees": 250, "industry": "saas", "country": "DE"}
    assert second["leads"][0]["company"] == "Acme Inc."  # not mentioned, not erased
    assert second["leads"][1]["email"] == "vp@corp.com"
    listing = client.get(url, params={"limit": 2, "offset": 1}, headers=headers).json()
    assert listing["total"] == 3 and [lead["id"] for lead in listing["leads"]] == [crm["id"], second["leads"][2]["id"]]


def test_bad_leads_are_refused_whole_with_reasons(client, make_tenant):
    headers = make_tenant()
    config = _config(client, headers)
    url = f"{BASE}/{config['id']}/leads"
    body = _error_shape(client.post(url, json={"leads": [{"email": "ok@a.com"}, {"name": "no identity"},
                                                        {"email": "not-an-email"}]}, headers=headers), 422)
    locs = [d["loc"] for d in body["details"]]
    assert ["body", "leads", 1] in locs and any(loc[:3] == ["body", "leads", 2] for loc in locs)
    assert client.get(url, headers=headers).json()["total"] == 0
    client.post(url, json={"leads": [{"email": "a@a.com"}, {"externalId": "X1"}]}, headers=headers)
    body = _error_shape(client.post(url, json={"leads": [{"email": "new@a.com"}, {"email": "a@a.com", "externalId": "X1"}]},
                                    headers=headers), 422, "invalid_input")
    assert body["details"] == [{"index": 1, "field": "email", "message": "email and externalId belong to two different leads"}]
    assert client.get(url, headers=headers).json()["total"] == 2
    _error_shape(client.post(url, json={"leads": []}, headers=headers), 422)
    _error_shape(client.post(url, content=b"{not json", headers={**headers, "Content-Type": "application/json"}), 422)
    _error_shape(client.get(url, params={"limit": 0}, headers=headers), 422)
    _error_shape(client.get(f"{BASE}/abc/leads", headers=headers), 422)


def test_patch_lead_and_outcome(client, make_tenant):
    headers = make_tenant()
    config = _config(client, headers)
    url = f"{BASE}/{config['id']}/leads"
    leads = client.post(url, json={"leads": [{"email": "a@a.com", "createdAt": "2026-02-01T00:00:00Z"},
                                             {"email": "b@b.com"}]}, headers=headers).json()["leads"]
    lead_id = leads[0]["id"]
    patched = client.patch(f"{BASE}/leads/{lead_id}", json={"title": "CTO", "sequence": {"name": "onboarding", "step": 1,
                                                                                          "totalSteps": 4}}, headers=headers)
    assert patched.json()["title"] == "CTO" and patched.json()["sequence"]["totalSteps"] == 4
    _error_shape(client.patch(f"{BASE}/leads/{lead_id}", json={"email": "b@b.com"}, headers=headers), 409, "conflict")
    _error_shape(client.patch(f"{BASE}/leads/{lead_id}", json={"email": None}, headers=headers), 422)
    _error_shape(client.post(f"{BASE}/leads/{lead_id}/outcome", json={"status": "won"}, headers=headers), 422)
    _error_shape(client.post(f"{BASE}/leads/{lead_id}/outcome", json={"status": "converted", "at": "2025-01-01T00:00:00Z"},
                             headers=headers), 422)
    done = client.post(f"{BASE}/leads/{lead_id}/outcome", json={"status": "converted", "at": "2026-03-01T00:00:00Z",
                                                                 "value": 1200}, headers=headers).json()
    assert done["outcome"]["status"] == "converted" and done["outcome"]["value"] == 1200
    assert client.get(f"{BASE}/leads/{lead_id}", headers=headers).json()["outcome"]["at"].startswith("2026-03-01")
    _error_shape(client.get(f"{BASE}/leads/999999", headers=headers), 404)


def test_activities_idempotent_and_resolved_by_any_identity(client, make_tenant):
    headers = make_tenant()
    config = _config(client, headers, timezone="America/New_York")
    leads = client.post(f"{BASE}/{config['id']}/leads", json={"leads": [{"email": "a@a.com", "externalId": "A"}]},
                        headers=headers).json()["leads"]
    lead_id = leads[0]["id"]
    url = f"{BASE}/{config['id']}/activities"
    batch = {"activities": [
        {"leadId": lead_id, "type": "email_sent", "occurredAt": "2026-01-01T09:00:00Z", "eventId": "e1"},
        {"leadEmail": "A@a.com", "type": "email_open", "occurredAt": "2026-01-01T10:00:00", "eventId": "e2"},
        {"leadExternalId": "A", "type": "webinar_attended", "occurredAt": "2026-01-02T10:00:00Z", "eventId": "e2"},
        {"leadExternalId": "A", "type": "page_view", "occurredAt": "2026-01-02T11:00:00Z"},
    ]}
    assert client.post(url, json=batch, headers=headers).json() == {"accepted": 3, "duplicates": 1}
    assert client.post(url, json={"activities": batch["activities"][:2]}, headers=headers).json() == {
        "accepted": 0, "duplicates": 2}
    refused = _error_shape(client.post(url, json={"activities": [
        {"leadId": lead_id, "type": "call", "occurredAt": "2026-01-03T10:00:00Z", "eventId": "e9"},
        {"leadEmail": "ghost@a.com", "type": "call", "occurredAt": "2026-01-03T10:00:00Z"}]}, headers=headers), 422)
    assert refused["details"] == [{"index": 1, "field": "lead", "message": "no such lead in this config"}]
    # e9 was not stored: the batch is all-or-nothing
    assert client.post(url, json={"activities": [{"leadId": lead_id, "type": "call", "occurredAt": "2026-01-03T10:00:00Z",
                                                  "eventId": "e9"}]}, headers=headers).json()["accepted"] == 1
    _error_shape(client.post(url, json={"activities": [{"leadId": lead_id, "type": "bad type!",
                                                        "occurredAt": "2026-01-03T10:00:00Z"}]}, headers=headers), 422)
    _error_shape(client.post(url, json={"activities": [{"leadId": lead_id, "type": "call", "occurredAt": "yesterday"}]},
                             headers=headers), 422)
