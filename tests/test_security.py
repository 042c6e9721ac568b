"""Security and API contract: unforgeable sessions bound to keys, CSRF, rate limits, limits on input,
no 500 on the inputs a review found, security headers, the OpenAPI error contract, seed fields, and
no secrets in logs."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from itsdangerous import Signer, TimestampSigner
from pydantic import ValidationError
from sqlalchemy import func, select, update

from leadml import db
from leadml.api.app import create_app
from leadml.api.ratelimit import TokenBuckets
from leadml.config import Settings
from leadml.jobs.fairness import FairQueue
from leadml.storage import tenants
from leadml.storage.tables import Activity, Lead, ServerSecret, WebSession

BASE = "/api/lead-scoring"
COOKIE = "leadml_session"
NOW = datetime.now(UTC)


def _key(headers):
    return headers["Authorization"].removeprefix("Bearer ")


def _login(client, key, **headers):
    response = client.post("/login", data={"apiKey": key}, headers=headers, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response


def _with_cookie(client, value):
    client.cookies.clear()
    client.cookies.set(COOKIE, value)


def _error(response, status, code=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code", "details"}, body
    if code:
        assert body["code"] == code, body
    return body


@pytest.fixture
def make_client(engine, tmp_path):
    made = []

    def make(**overrides):
        values = {"database_url": "sqlite://unused", "data_dir": tmp_path / "var"} | overrides
        client = TestClient(create_app(Settings(**values), engine=engine))
        client.__enter__()
        made.append(client)
        return client

    yield make
    for client in made:
        client.__exit__(None, None, None)


# --- the session secret -----------------------------------------------------------------------------

def test_a_short_session_secret_is_refused_and_none_means_a_generated_stored_one(engine, make_client, make_tenant):
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(session_secret="change-me-leadml-session-secret")
    assert Settings(session_secret="").session_secret is None

    first, second = make_client(), make_client()  # two server processes on one database
    key = _key(make_tenant("acme"))
    cookie = _login(first, key).cookies[COOKIE]
    with db.transaction(db.make_session_factory(engine)) as session:
        stored = session.scalars(select(ServerSecret.value)).all()
    assert len(stored) == 1 and len(stored[0]) >= 48
    _with_cookie(second, cookie)
    assert second.get(f"{BASE}/configs").status_code == 200  # the other process knows the secret


def test_forged_cookies_never_sign_in(client, make_tenant):
    make_tenant("victim")
    # What the old default secret allowed: a signed {"tenant_id": 1}.
    payload = json.dumps({"tenant_id": 1}).encode()
    for secret in ("change-me-leadml-session-secret", "test-secret-0123456789abcdef0123456789"):
        for forged in (TimestampSigner(secret).sign(payload).decode(),
                       Signer(secret, salt="leadml.page-session").sign("x" * 43).decode()):
            _with_cookie(client, forged)
            _error(client.get(f"{BASE}/configs"), 401, "unauthorized")
            _error(client.post(f"{BASE}/configs", json={"name": "x"}, headers={"Origin": "http://testserver"}),
                   401)
            assert 'name="apiKey"' in client.get("/").text


# --- sessions end with their key, on sign-out and after their lifetime --------------------------------

def test_revoking_the_key_ends_its_sessions_at_once(client, sessions, make_tenant):
    headers = make_tenant("acme")
    cookie = _login(client, _key(headers)).cookies[COOKIE]
    _with_cookie(client, cookie)
    assert client.get(f"{BASE}/configs").status_code == 200
    with db.transaction(sessions) as session:
        tenant = tenants.get_tenant_by_name(session, "acme")
        tenants.revoke_key(session, tenant_id=tenant.id, key=_key(headers)[:12])
    _with_cookie(client, cookie)
    _error(client.get(f"{BASE}/configs"), 401)
    _error(client.post(f"{BASE}/configs", json={"name": "x"}, headers={"Origin": "http://testserver"}), 401)
    assert 'name="apiKey"' in client.get("/").text
    _error(client.get(f"{BASE}/configs", headers=headers), 401)  # the key itself too
    with db.transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0


def test_sign_out_ends_the_session_on_the_server(client, make_tenant):
    cookie = _login(client, _key(make_tenant())).cookies[COOKIE]
    _with_cookie(client, cookie)
    assert client.get("/logout", follow_redirects=False).status_code == 303
    _with_cookie(client, cookie)  # a copy of the cookie kept elsewhere
    _error(client.get(f"{BASE}/configs"), 401)


def test_sessions_expire_after_their_configured_lifetime(make_client, sessions, make_tenant):
    client = make_client(session_lifetime_minutes=15)
    response = _login(client, _key(make_tenant()))
    assert "max-age=900" in response.headers["set-cookie"].lower()
    assert client.get(f"{BASE}/configs").status_code == 200
    with db.transaction(sessions) as session:
        session.execute(update(WebSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    _error(client.get(f"{BASE}/configs"), 401)
    assert Settings().session_lifetime_minutes == 60


@pytest.mark.parametrize(("overrides", "secure"), [
    ({}, False), ({"host": "0.0.0.0"}, True), ({"host": "::1"}, False),
    ({"host": "0.0.0.0", "session_cookie_secure": False}, False), ({"session_cookie_secure": True}, True),
])
def test_the_cookie_is_secure_unless_on_loopback_or_told_otherwise(make_client, make_tenant, overrides, secure):
    cookie = _login(make_client(**overrides), _key(make_tenant())).headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert ("; secure" in cookie) is secure


# --- CSRF ------------------------------------------------------------------------------------------

def test_cookie_authenticated_writes_need_the_same_origin_or_the_csrf_token(client, make_tenant):
    headers = make_tenant()
    _login(client, _key(headers))
    body = {"name": "from the page"}
    _error(client.post(f"{BASE}/configs", json=body, headers={"Origin": "https://evil.example"}), 403, "forbidden")
    _error(client.post(f"{BASE}/configs", json=body, headers={"Referer": "https://evil.example/x"}), 403)
    _error(client.post(f"{BASE}/configs", json=body), 403)  # neither header nor token
    _error(client.post(f"{BASE}/configs", json=body, headers={"X-CSRF-Token": "0" * 64}), 403)
    assert client.post(f"{BASE}/configs", json=body, headers={"Origin": "http://testserver"}).status_code == 201
    token = client.app.state.session_keys.csrf_token(
        client.app.state.session_keys.token_of(client.cookies[COOKIE]))
    assert client.post(f"{BASE}/configs", json=body, headers={"X-CSRF-Token": token}).status_code == 201
    assert client.get(f"{BASE}/configs", headers={"Origin": "https://evil.example"}).status_code == 200  # reads
    # An API key is no ambient credential: no Origin rule for it.
    client.cookies.clear()
    assert client.post(f"{BASE}/configs", json=body,
                       headers={**headers, "Origin": "https://evil.example"}).status_code == 201
    # Signing in from another site (login CSRF) is refused.
    response = client.post("/login", data={"apiKey": _key(headers)}, headers={"Origin": "https://evil.example"},
                           follow_redirects=False)
    assert response.status_code == 403 and COOKIE not in response.cookies


# --- rate limits -------------------------------------------------------------------------------------

def test_each_key_is_rate_limited_with_retry_after(make_client, make_tenant):
    client = make_client(rate_limit_per_second=1, rate_limit_burst=3)
    first, second = make_tenant(), make_tenant()
    assert [client.get(f"{BASE}/configs", headers=first).status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get(f"{BASE}/configs", headers=first)
    body = _error(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1 and body["details"]["retryAfter"] >= 1
    assert client.get(f"{BASE}/configs", headers=second).status_code == 200  # per key


def test_failed_authentication_and_sign_in_are_limited_per_address(make_client, make_tenant):
    client = make_client(auth_failures_per_minute=3, login_attempts_per_minute=5)
    good = make_tenant()
    bad = {"Authorization": "Bearer lml_wrong"}
    assert [client.get(f"{BASE}/configs", headers=bad).status_code for _ in range(3)] == [401, 401, 401]
    locked = client.get(f"{BASE}/configs", headers=bad)
    _error(locked, 429, "rate_limited")
    assert int(locked.headers["retry-after"]) >= 1
    # While locked out, no key is checked from this address (no guessing oracle).
    _error(client.get(f"{BASE}/configs", headers=good), 429)

    other = make_client(login_attempts_per_minute=2, auth_failures_per_minute=100)
    statuses = [other.post("/login", data={"apiKey": "lml_wrong"}, follow_redirects=False).status_code
                for _ in range(3)]
    assert statuses == [401, 401, 429]
    limited = other.post("/login", data={"apiKey": _key(good)}, follow_redirects=False)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_token_buckets_refill_over_time():
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])
    assert buckets.take("k") == 0 and buckets.take("k") == 0
    assert buckets.take("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("k") == 0
    assert TokenBuckets(rate=0, burst=1).take("k") == 0  # 0 disables


def test_jobs_take_turns_across_tenants():
    queue = FairQueue()
    for item in ("a1", "a2", "a3"):
        queue.put("tenant a", item)
    queue.put("tenant b", "b1")
    queue.put("tenant c", "c1")
    queue.put("tenant b", "b2")
    assert [queue.pop() for _ in range(6)] == ["a1", "b1", "c1", "a2", "b2", "a3"]
    with pytest.raises(IndexError):
        queue.pop()


# --- no 500 from input; limits -----------------------------------------------------------------------

@pytest.fixture
def lead_world(client, make_tenant):
    headers = make_tenant()
    config_id = client.post(f"{BASE}/configs", json={"name": "c"}, headers=headers).json()["id"]
    lead_id = client.post(f"{BASE}/{config_id}/leads", json={"leads": [{"email": "a@corp.example"}]},
                          headers=headers).json()["leads"][0]["id"]
    return headers, config_id, lead_id


def _bad_requests(config_id: int, lead_id: int):
    lead = {"email": "b@corp.example"}
    activity = {"leadId": lead_id, "type": "page_view", "occurredAt": "2025-01-01T00:00:00Z"}
    for moment in ("9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", "1899-12-31T00:00:00Z"):
        yield "POST", f"/{config_id}/leads", {"leads": [{**lead, "createdAt": moment}]}
        yield "POST", f"/{config_id}/activities", {"activities": [{**activity, "occurredAt": moment}]}
        yield "POST", f"/leads/{lead_id}/outcome", {"status": "converted", "at": moment}
    yield "GET", f"/{config_id}/ml/accuracy?endDate=9999-12-31", None
    yield "GET", f"/{config_id}/ml/accuracy?startDate=0001-01-01", None
    yield "GET", "/leads/100000000000000000000", None
    yield "GET", "/leads/2147483648", None
    yield "GET", f"/{config_id}/leads?offset=99999999999999999999", None
    yield "GET", f"/{config_id}/leads?limit=1000", None
    yield "POST", f"/{config_id}/activities", {"activities": [{**activity, "leadId": 2**70}]}
    yield "POST", f"/{config_id}/leads", {"leads": [{**lead, "name": "a\ud800b"}]}
    yield "POST", f"/{config_id}/leads", {"leads": [{**lead, "name": "a\u0000b"}]}
    yield "POST", f"/{config_id}/leads", {"leads": [{**lead, "attributes": {"k\u0000": 1}}]}
    yield "PATCH", f"/leads/{lead_id}", {"name": "x" * 301}
    yield "POST", f"/{config_id}/activities", {"activities": [{**activity, "source": "s" * 201}]}
    yield "POST", f"/{config_id}/activities", {"activities": [{**activity, "campaign": "c" * 201}]}
    yield "POST", f"/{config_id}/activities", {"activities": [{**activity, "data": {"blob": "x" * 20000}}]}
    yield "POST", f"/{config_id}/activities", {"activities": [{**activity, "data": {"k": "\ud83d"}}]}
    yield "POST", f"/{config_id}/leads", {"leads": [{**lead, "attributes": {"v": "x" * 2001}}]}
    yield "POST", f"/{config_id}/leads", {"leads": [{**lead, "attributes": {f"a{i}": "x" * 1000 for i in range(40)}}]}
    yield "POST", f"/{config_id}/leads", {"leads": [{**lead, "sequence": {"name": "s", "step": 0,
                                                                          "totalSteps": 2**40}}]}
    yield "POST", "/configs", {"name": "c", "featureAttributes": [f"a{i}" for i in range(100_000)]}
    yield "PATCH", f"/configs/{config_id}", {"timezone": None}


def test_bad_inputs_answer_4xx_and_store_nothing(client, sessions, lead_world):
    headers, config_id, lead_id = lead_world
    with db.transaction(sessions) as session:
        counts = (session.scalar(select(func.count()).select_from(Lead)),
                  session.scalar(select(func.count()).select_from(Activity)))
    for method, path, body in _bad_requests(config_id, lead_id):
        response = client.request(method, BASE + path, content=json.dumps(body) if body is not None else None,
                                  headers={**headers, "Content-Type": "application/json"})
        assert response.status_code in (404, 422), (method, path, response.status_code, response.text[:300])
        _error(response, response.status_code)
    # Raw bodies json.dumps cannot produce: non-finite numbers, invalid UTF-8, deep nesting, NUL.
    raw_bodies = [
        b'{"leads": [{"email": "c@corp.example", "attributes": {"x": Infinity}}]}',
        b'{"leads": [{"email": "c@corp.example", "attributes": {"x": -Infinity}}]}',
        b'{"leads": [{"email": "c@corp.example", "attributes": {"x": NaN}}]}',
        b'{"leads": [{"email": "c@corp.example", "attributes": {"x": 1e999}}]}',
        b'{"leads": [{"email": "c@corp.example", "name": "\xff\xfe"}]}',
        b'{"leads": [{"email": "c@corp.example", "name": "a\\u0000"}]}',
        b'{"leads": [{"email": "c@corp.example", "attributes": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}]}",
    ]
    for raw in raw_bodies:
        response = client.post(f"{BASE}/{config_id}/leads", content=raw,
                               headers={**headers, "Content-Type": "application/json"})
        _error(response, 422, "validation_error")
    with db.transaction(sessions) as session:
        assert (session.scalar(select(func.count()).select_from(Lead)),
                session.scalar(select(func.count()).select_from(Activity))) == counts
    # The lead's features still answer (a stored non-finite number once broke them).
    assert client.get(f"{BASE}/leads/{lead_id}/ml/features", headers=headers).status_code == 200
    # Years at the edges of the range are fine.
    ok = client.post(f"{BASE}/{config_id}/leads", headers=headers,
                     json={"leads": [{"email": "edge@corp.example", "createdAt": "2200-12-31T23:00:00-05:00"}]})
    assert ok.status_code == 200


def test_request_bodies_over_the_limit_answer_413(make_client, make_tenant):
    client = make_client(max_body_bytes=64 * 1024)
    headers = make_tenant()
    config_id = client.post(f"{BASE}/configs", json={"name": "c"}, headers=headers).json()["id"]
    big = json.dumps({"leads": [{"email": f"x{i}@corp.example", "name": "n" * 200} for i in range(400)]})
    _error(client.post(f"{BASE}/{config_id}/leads", content=big,
                       headers={**headers, "Content-Type": "application/json"}), 413, "payload_too_large")

    def chunks():  # no Content-Length: counted while read
        for _ in range(100):
            yield b" " * 1024

    _error(client.post(f"{BASE}/{config_id}/leads", content=chunks(),
                       headers={**headers, "Content-Type": "application/json"}), 413)


# --- headers and the OpenAPI document -------------------------------------------------------------------

def test_security_headers_on_every_response(client, make_tenant):
    headers = make_tenant()
    for response in (client.get("/"), client.get("/static/insights.js"), client.get(f"{BASE}/configs", headers=headers),
                     client.get(f"{BASE}/configs"), client.get("/health")):
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert client.get(f"{BASE}/configs", headers=headers).headers["cache-control"] == "no-store"


def test_the_openapi_document_describes_the_real_errors_and_responses(client):
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(document)
    assert set(document["components"]["schemas"]["Error"]["required"]) >= {"error", "code"}
    operations = {(m, p): op for p, item in document["paths"].items() for m, op in item.items()}
    for (method, path), operation in operations.items():
        responses = operation["responses"]
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        if path.startswith(BASE):
            assert {"401", "429"} <= set(responses), (method, path)
            assert "Retry-After" in responses["429"]["headers"]
        if "{" in path:
            assert "404" in responses, (method, path)
    for method, path in (("post", f"{BASE}/leads/{{lead_id}}/ml/predict"), ("get", f"{BASE}/jobs/{{job_id}}"),
                         ("get", f"{BASE}/{{config_id}}/ml/accuracy"), ("post", f"{BASE}/{{config_id}}/ml/train")):
        ok = next(r for s, r in operations[(method, path)]["responses"].items() if s.startswith("2"))
        assert ok["content"]["application/json"]["schema"].get("$ref"), (method, path)
    assert "409" in operations[("post", f"{BASE}/{{config_id}}/ml/train")]["responses"]


# --- seed compatibility ------------------------------------------------------------------------------------

def test_seed_fields_include_explanation_predicted_value_features_and_labels(client, lead_world):
    headers, config_id, lead_id = lead_world
    valued = client.post(f"{BASE}/{config_id}/leads", headers=headers, json={"leads": [{
        "email": "v@corp.example", "pipelineValue": 12500,
        "sequence": {"name": "nurture", "step": 2, "totalSteps": 5}}]}).json()["leads"][0]["id"]
    full = client.post(f"{BASE}/leads/{valued}/ml/predict", json={}, headers=headers).json()["prediction"]
    assert full["explanation"] and full["predictedValue"] == 12500.0
    terse = client.post(f"{BASE}/leads/{valued}/ml/predict", json={"includeExplanation": False},
                        headers=headers).json()["prediction"]
    assert terse["explanation"] is None and terse["probability"] == full["probability"]
    no_value = client.post(f"{BASE}/leads/{lead_id}/ml/predict", json={}, headers=headers).json()["prediction"]
    assert no_value["predictedValue"] is None  # not a copy of the probability

    features = client.get(f"{BASE}/leads/{valued}/ml/features", headers=headers).json()["features"]
    assert features["demographic"]["emailDomain"] == "corp.example"
    assert features["temporal"]["leadAgeWeeks"] == pytest.approx(features["temporal"]["daysSinceCreated"] / 7, abs=0.1)
    assert 0 <= features["engagement"]["totalEngagementScore"] <= 100
    assert features["engagement"]["currentSequenceStep"] == 2

    importance = client.get(f"{BASE}/{config_id}/ml/feature-importance", headers=headers).json()["importance"]
    labels = {row["name"]: row["label"] for row in importance}
    assert labels["emailOpenCount"] == "Email open count" and labels["meetingCount"] == "Meeting count"


# --- secrets stay out of the logs ------------------------------------------------------------------------

def test_no_key_secret_or_personal_data_in_logs(make_client, make_tenant, caplog):
    llm_key = "sk-llm-secret-4f1a9c"
    secret = "s" * 40 + "-session-secret"
    client = make_client(llm_api_key=llm_key, session_secret=secret)
    headers = make_tenant()
    caplog.set_level(logging.DEBUG)
    email = "private.person@corp.example"
    config_id = client.post(f"{BASE}/configs", json={"name": "c"}, headers=headers).json()["id"]
    lead_id = client.post(f"{BASE}/{config_id}/leads", headers=headers,
                          json={"leads": [{"email": email, "name": "Private Person", "phone": "+1 555 0100"}]}
                          ).json()["leads"][0]["id"]
    client.post(f"{BASE}/leads/{lead_id}/ml/predict", json={}, headers=headers)
    client.get(f"{BASE}/configs", headers={"Authorization": "Bearer lml_wrong-key-guess"})
    client.post("/login", data={"apiKey": "lml_wrong-key-guess"})
    cookie = _login(client, _key(headers)).cookies[COOKIE]
    client.get(f"{BASE}/configs")
    client.post(f"{BASE}/{config_id}/leads", json={"leads": [{"email": email, "createdAt": "9999-01-01T00:00:00Z"}]},
                headers=headers)
    assert "POST /login" in caplog.text or caplog.records  # the requests above were logged
    for needle in (_key(headers), "lml_wrong-key-guess", llm_key, secret, cookie, email, "+1 555 0100"):
        assert needle not in caplog.text, needle
    assert secret not in repr(client.app.state.settings)  # a SecretStr
