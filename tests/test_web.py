"""The ML Insights page: sign-in with an API key, the session cookie on the JSON API, and the page
itself in a real headless Chromium against a real uvicorn server."""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn

BASE = "/api/lead-scoring"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Markup in a lead's name must show up as text, never as elements.
HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">Eve & <b>Co</b>'


def _key(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def _iso(dt: datetime) -> str:
    return dt.isoformat()


# --- plain HTTP: sign-in, sign-out and the cookie on the JSON API --------------------------------

def test_signed_out_root_is_the_sign_in_form(client):
    page = client.get("/")
    assert page.status_code == 200 and 'name="apiKey"' in page.text and 'action="/login"' in page.text
    assert client.get("/static/insights.js").status_code == 200
    assert client.get("/static/routes.py").status_code == 404


@pytest.mark.parametrize("form", [{"apiKey": "lml_not-a-real-key"}, {"apiKey": "  "}, {}])
def test_login_with_a_bad_or_missing_key_shows_the_error(client, make_tenant, form):
    make_tenant()
    response = client.post("/login", data=form, follow_redirects=False)
    assert response.status_code == 401
    assert 'id="login-error"' in response.text and 'name="apiKey"' in response.text
    assert "session" not in response.cookies
    assert client.get(f"{BASE}/configs").status_code == 401


def test_session_cookie_signs_the_json_api_in_and_stays_tenant_scoped(client, make_tenant):
    mine, theirs = make_tenant("mine"), make_tenant("theirs")
    my_config = client.post(f"{BASE}/configs", json={"name": "my pipeline"}, headers=mine).json()
    their_config = client.post(f"{BASE}/configs", json={"name": "their pipeline"}, headers=theirs).json()

    response = client.post("/login", data={"apiKey": _key(mine)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie

    page = client.get("/")
    assert page.status_code == 200 and "Top priority leads" in page.text and "mine" in page.text
    listed = client.get(f"{BASE}/configs")  # no Authorization header: the cookie alone
    assert listed.status_code == 200 and [c["id"] for c in listed.json()["configs"]] == [my_config["id"]]
    assert client.get(f"{BASE}/{my_config['id']}/ml/top-leads").status_code == 200
    for path in (f"/{their_config['id']}/ml/top-leads", f"/{their_config['id']}/ml/accuracy",
                 f"/{their_config['id']}/ml/feature-importance"):
        other = client.get(BASE + path)
        assert other.status_code == 404 and other.json()["code"] == "not_found", path

    assert client.get("/logout", follow_redirects=False).status_code == 303
    assert client.get(f"{BASE}/configs").status_code == 401
    assert 'name="apiKey"' in client.get("/").text


# --- the page in a real browser ---------------------------------------------------------------

@pytest.fixture
def live_server(sqlite_engine, settings):
    """The app behind uvicorn on a free loopback port (one database: the browser test is slow enough)."""
    from leadml.api.app import create_app

    app = create_app(settings, engine=sqlite_engine)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=10)


def _seed(url: str, headers: dict[str, str]) -> dict:
    """A config, five leads (one with markup in its name), activities, and predictions for four of them."""
    now = datetime.now(UTC)
    with httpx.Client(base_url=url + BASE, headers=headers, timeout=30) as http:
        config = http.post("/configs", json={"name": "EMEA pipeline"}).json()
        leads = http.post(f"/{config['id']}/leads", json={"leads": [
            {"email": "dana@acme-industries.com", "name": "Dana Chief", "title": "Chief Executive Officer",
             "company": "Acme Inc.", "phone": "+1 555 0100", "createdAt": _iso(now - timedelta(days=20))},
            {"email": "vic@globex.com", "name": "Vic Sales", "title": "VP of Sales", "company": "Globex",
             "createdAt": _iso(now - timedelta(days=12))},
            {"email": "eve@evil.example", "name": HOSTILE_NAME, "title": "Manager", "company": "Evil <Corp>",
             "createdAt": _iso(now - timedelta(days=30))},
            {"email": "ian@initech.com", "name": "Ian Tern", "title": "Intern", "company": "Initech",
             "createdAt": _iso(now - timedelta(days=80))},
            {"email": "late@umbrella.com", "name": "Lee Late", "title": "Director of IT", "company": "Umbrella",
             "createdAt": _iso(now - timedelta(days=5))},
        ]}).json()["leads"]
        ids = [lead["id"] for lead in leads]
        kinds = ["email_open", "email_click", "page_view", "page_view", "form_submit", "meeting", "call"]
        activities = [{"leadId": ids[0], "type": t, "occurredAt": _iso(now - timedelta(days=6 - i, hours=1)),
                       "eventId": f"a{i}"} for i, t in enumerate(kinds)]
        activities += [{"leadId": ids[1], "type": t, "occurredAt": _iso(now - timedelta(days=4 - i)),
                        "eventId": f"b{i}"} for i, t in enumerate(["email_open", "page_view", "email_click"])]
        activities += [{"leadId": ids[2], "type": "email_open", "occurredAt": _iso(now - timedelta(days=9)),
                        "eventId": "c0"}]
        assert http.post(f"/{config['id']}/activities", json={"activities": activities}).status_code == 200
        docs = {}
        for lead_id in ids[:4]:  # the last lead stays unranked until scored from the page
            response = http.post(f"/leads/{lead_id}/ml/predict", json={})
            assert response.status_code == 200, response.text
            docs[lead_id] = response.json()["prediction"]
    return {"config": config, "ids": ids, "docs": docs}


def test_ml_insights_page_in_headless_chromium(live_server, make_tenant_for, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (the test command installs Debian's chromium): browser test skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (in the test extras)")
    url, app = live_server
    headers = make_tenant_for(app)
    world = _seed(url, headers)
    ids, docs = world["ids"], world["docs"]
    expected_order = sorted(docs, key=lambda i: -docs[i]["priorityScore"])

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            expect = sync_api.expect

            page.goto(url + "/")
            page.fill("#apiKey", "lml_wrong-key")
            page.click("button[type=submit]")
            expect(page.locator("#login-error")).to_contain_text("not valid")

            page.fill("#apiKey", _key(headers))
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text("ML Insights")
            expect(page.locator("#config-select option")).to_have_text([f"EMEA pipeline (#{world['config']['id']})"])

            # Performance metrics: four predictions made, none validated, no trained model.
            expect(page.locator("#m-total")).to_have_text("4")
            expect(page.locator("#m-validated")).to_have_text("0")
            expect(page.locator("#m-model")).to_have_text("rules (no trained model yet)")

            # Feature importance: at most 15 bars, widest first, coloured by category.
            bars = page.locator("#importance-bars .bar-row")
            expect(bars.first).to_be_visible()
            assert 1 <= bars.count() <= 15
            widths = page.eval_on_selector_all("#importance-bars .bar-fill", "els => els.map(e => e.offsetWidth)")
            assert widths == sorted(widths, reverse=True) and widths[0] > 0
            assert page.locator("#importance-bars .bar-fill.cat-behavioral").count() >= 1
            expect(page.locator("#importance-source")).to_contain_text("rules")

            # Top priority leads, in priority order, markup shown as text.
            rows = page.locator("#leads-body tr")
            expect(rows).to_have_count(4)
            shown = [int(x) for x in rows.evaluate_all("rs => rs.map(r => r.dataset.leadId)")]
            assert shown == expected_order
            expect(rows.locator("td:first-child")).to_have_text(["1", "2", "3", "4"])
            first = docs[expected_order[0]]
            expect(rows.first.locator("td").nth(4)).to_have_text(f"{100 * first['probability']:.1f}%")
            expect(page.get_by_text(HOSTILE_NAME, exact=True)).to_have_count(1)
            assert page.locator("#leads-body img, #leads-body b").count() == 0
            assert page.evaluate("window.__pwned") is None

            # Clicking a lead opens its prediction details.
            page.locator(f"#leads-body tr[data-lead-id='{ids[0]}']").click()
            details = page.locator("#details")
            expect(details).to_be_visible()
            expect(page.locator("#d-lead")).to_have_text("Dana Chief")
            expect(page.locator("#d-explanation")).to_have_text(docs[ids[0]]["explanation"])
            expect(page.locator("#d-probability")).to_have_text(f"{100 * docs[ids[0]]['probability']:.1f}%")
            expect(page.locator("#d-breakdown .bar-row")).to_have_count(4)
            assert page.locator("#d-recommendations li").count() >= 1
            page.screenshot(path=str(tmp_path / "insights-details.png"), full_page=True)

            # Scoring a not-yet-ranked lead from the page adds it to the list.
            page.fill("#score-lead-id", str(ids[4]))
            page.click("#score-form button")
            expect(page.locator("#score-message")).to_contain_text(f"Lead #{ids[4]}")
            expect(rows).to_have_count(5)
            expect(page.locator(f"#leads-body tr[data-lead-id='{ids[4]}']")).to_have_count(1)
            expect(page.locator("#m-total")).to_have_text("5")
            page.fill("#score-lead-id", "999999")
            page.click("#score-form button")
            expect(page.locator("#score-message")).to_contain_text("Could not score lead #999999")

            # Once a model is active, the metrics show its hold-out figures and the chart its importance.
            _activate_model(app, world["config"]["id"])
            page.reload()
            expect(page.locator("#m-model")).to_have_text("model v1")
            expect(page.locator("#m-holdout")).to_have_text("Hold-out: AUC 0.812 · ECE 0.031 · top-decile lift 3.40")
            expect(page.locator("#importance-source")).to_have_text("(trained model v1)")
            expect(page.locator("#importance-bars .bar-label")).to_have_text(["Meeting Count", "Title Seniority"])
            expect(page.locator("#importance-bars .bar-fill.cat-custom")).to_have_count(0)
            expect(rows).to_have_count(5)

            page.click("text=Sign out")
            expect(page.locator("#apiKey")).to_be_visible()
            assert errors == []
        finally:
            browser.close()
    shot = os.environ.get("LEADML_WEB_SCREENSHOT")
    if shot:  # for looking at the page by hand
        Path(shot).write_bytes((tmp_path / "insights-details.png").read_bytes())


def _activate_model(app, config_id: int) -> None:
    """Record an active conversion model version with known hold-out metrics (the page only reads them)."""
    from leadml import db
    from leadml.storage import models as model_store

    with db.transaction(app.state.session_factory) as session:
        version = model_store.add_version(
            session, config_id=config_id, kind="conversion", artifact=b"",
            metrics={"auc": 0.8123, "ece": 0.0312, "lift_top_decile": 3.4, "brier": 0.1},
            training_summary={}, feature_importance=[
                {"name": "meetingCount", "importance": 0.6, "category": "behavioral"},
                {"name": "titleSeniority", "importance": 0.4, "category": "demographic"}],
        )
        model_store.activate(session, version=version)


@pytest.fixture
def make_tenant_for():
    """A tenant in the live server's own database (the shared make_tenant uses the parametrized engine)."""
    from leadml import db
    from leadml.storage import tenants

    def make(app) -> dict[str, str]:
        with db.transaction(app.state.session_factory) as session:
            _tenant, key = tenants.create_tenant(session, name="web-tenant")
        return {"Authorization": f"Bearer {key}"}

    return make
