"""The ML Insights page: sign-in with an API key, the session cookie on the JSON API, and the page
itself in a real headless Chromium against a real uvicorn server.

Screenshots of the browser test go to $LEADML_TEST_ARTIFACTS when it is set (the test command sets
it to `artifacts/`, which git ignores), else to the test's temporary directory."""

from __future__ import annotations

import contextlib
import os
import random
import re
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

@contextlib.contextmanager
def _serve(app):
    """The app behind uvicorn on a free loopback port."""
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
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_server(sqlite_engine, settings):
    """The app behind uvicorn (one database: the browser test is slow enough)."""
    from leadml.api.app import create_app

    app = create_app(settings, engine=sqlite_engine)
    with _serve(app) as url:
        yield url, app


def _browser(sync_api, p):
    return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def _sign_in(page, url: str, headers: dict[str, str]) -> None:
    page.goto(url + "/")
    page.fill("#apiKey", _key(headers))
    page.click("button[type=submit]")


def _iso_days_ago(now: datetime, days: float) -> str:
    return _iso(now - timedelta(days=days))


def _seed(url: str, headers: dict[str, str]) -> dict:
    """A config with a history to train on and open leads to rank.

    - 200 closed leads (converted or lost, more often converted when they met or filled in a form),
      so that the page can train a model;
    - five named open leads (one with markup in its name) and ten more open leads, so the ranking
      has more than one page of ten.
    Closed leads are spread over the last 400 days so that the newest fifth (the hold-out) holds
    conversions too, not only open leads.
    """
    now = datetime.now(UTC)
    rng = random.Random(12)
    with httpx.Client(base_url=url + BASE, headers=headers, timeout=60) as http:
        config = http.post("/configs", json={"name": "EMEA pipeline"}).json()
        cid = config["id"]
        named = [
            {"email": "dana@acme-industries.com", "name": "Dana Chief", "title": "Chief Executive Officer",
             "company": "Acme Inc.", "phone": "+1 555 0100", "createdAt": _iso_days_ago(now, 20)},
            {"email": "vic@globex.com", "name": "Vic Sales", "title": "VP of Sales", "company": "Globex",
             "createdAt": _iso_days_ago(now, 12)},
            {"email": "eve@evil.example", "name": HOSTILE_NAME, "title": "Manager", "company": "Evil <Corp>",
             "createdAt": _iso_days_ago(now, 30)},
            {"email": "ian@initech.com", "name": "Ian Tern", "title": "Intern", "company": "Initech",
             "createdAt": _iso_days_ago(now, 80)},
            {"email": "late@umbrella.com", "name": "Lee Late", "title": "Director of IT", "company": "Umbrella",
             "createdAt": _iso_days_ago(now, 5)},
        ]
        titles = ["VP Marketing", "Director of Sales", "Analyst", "Manager", "Intern", "Chief Operating Officer"]
        filler = [{"email": f"open{i}@company{i % 7}.com", "name": f"Open Lead {i:02d}", "title": rng.choice(titles),
                   "company": f"Company {i % 7}", "createdAt": _iso_days_ago(now, rng.uniform(2, 60))}
                  for i in range(10)]
        history = [{"email": f"past{i}@firm{i % 11}.com", "name": f"Past Lead {i:03d}", "title": rng.choice(titles),
                    "company": f"Firm {i % 11}", "createdAt": _iso_days_ago(now, rng.uniform(15, 400))}
                   for i in range(200)]
        leads = http.post(f"/{cid}/leads", json={"leads": named + filler + history}).json()["leads"]
        ids = [lead["id"] for lead in leads]
        named_ids, filler_ids, history_ids = ids[:5], ids[5:15], ids[15:]

        kinds = ["email_open", "email_click", "page_view", "page_view", "form_submit", "meeting", "call"]
        activities = [{"leadId": named_ids[0], "type": t, "occurredAt": _iso(now - timedelta(days=6 - i, hours=1)),
                       "eventId": f"a{i}"} for i, t in enumerate(kinds)]
        activities += [{"leadId": named_ids[1], "type": t, "occurredAt": _iso_days_ago(now, 4 - i),
                        "eventId": f"b{i}"} for i, t in enumerate(["email_open", "page_view", "email_click"])]
        activities += [{"leadId": named_ids[2], "type": "email_open", "occurredAt": _iso_days_ago(now, 9),
                        "eventId": "c0"}]
        for lead_id, lead in zip(filler_ids, filler, strict=True):
            age = (now - datetime.fromisoformat(lead["createdAt"])).total_seconds() / 86400
            for k in range(rng.randint(0, 8)):
                activities.append({"leadId": lead_id, "type": rng.choice(kinds), "eventId": f"f{lead_id}-{k}",
                                   "occurredAt": _iso_days_ago(now, rng.uniform(0, age))})
        outcomes = {}
        for lead_id, lead in zip(history_ids, history, strict=True):
            engaged = rng.random() < 0.5
            converted = rng.random() < (0.7 if engaged else 0.2)
            created = datetime.fromisoformat(lead["createdAt"])
            age = (now - created).total_seconds() / 86400
            closed_after = min(rng.uniform(10, 45) if converted else rng.uniform(30, 80), age - 1)
            strong = ["meeting", "form_submit", "call"] if engaged else []
            for k, kind in enumerate(strong + [rng.choice(kinds[:4]) for _ in range(rng.randint(1, 4))]):
                activities.append({"leadId": lead_id, "type": kind, "eventId": f"h{lead_id}-{k}",
                                   "occurredAt": _iso(created + timedelta(days=rng.uniform(0.5, closed_after - 0.5)))})
            outcomes[lead_id] = ("converted" if converted else "lost", created + timedelta(days=closed_after))
        for chunk in range(0, len(activities), 500):
            response = http.post(f"/{cid}/activities", json={"activities": activities[chunk:chunk + 500]})
            assert response.status_code == 200, response.text
        for lead_id, (status, at) in outcomes.items():
            response = http.post(f"/leads/{lead_id}/outcome", json={"status": status, "at": _iso(at)})
            assert response.status_code == 200, response.text
        paths = http.get(url + "/openapi.json").json()["paths"]
    bulk = any(re.fullmatch(re.escape(BASE) + r"/\{[^}]+\}/ml/bulk-predict", path) for path in paths)
    return {"config": config, "named": named_ids, "filler": filler_ids, "open": named_ids + filler_ids, "bulk": bulk}


def _score(url: str, headers: dict[str, str], lead_ids) -> None:
    with httpx.Client(base_url=url + BASE, headers=headers, timeout=60) as http:
        for lead_id in lead_ids:
            response = http.post(f"/leads/{lead_id}/ml/predict", json={})
            assert response.status_code == 200, response.text


def _get(url: str, headers: dict[str, str], path: str) -> dict:
    response = httpx.get(url + BASE + path, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LEADML_TEST_ARTIFACTS") or tmp_path) / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_ml_insights_page_in_headless_chromium(live_server, make_tenant_for, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (the test command installs Debian's chromium): browser test skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (in the test extras)")
    url, app = live_server
    headers = make_tenant_for(app)
    world = _seed(url, headers)
    cid, named = world["config"]["id"], world["named"]
    if not world["bulk"]:
        # No bulk endpoint on this server: rank every open lead but one through the single-lead API.
        _score(url, headers, [i for i in world["open"] if i != named[4]])
    shots = _shots_dir(tmp_path)

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            # Console errors count, except the browser's own note on a failed request (checked below).
            page.on("console", lambda msg: msg.type == "error" and not msg.text.startswith("Failed to load resource")
                    and problems.append(msg.text))
            failed: list[str] = []
            page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url.removeprefix(url)}"))
            expect = sync_api.expect
            expect.set_options(timeout=20_000)

            # --- sign in -----------------------------------------------------------------------
            page.goto(url + "/")
            page.fill("#apiKey", "lml_wrong-key")
            page.click("button[type=submit]")
            expect(page.locator("#login-error")).to_contain_text("not valid")
            page.fill("#apiKey", _key(headers))
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text("ML Insights")
            expect(page.locator("#config-select option")).to_have_text([f"EMEA pipeline (#{cid})"])
            expect(page.locator("#m-validated")).to_have_text("0")
            expect(page.locator("#m-model")).to_have_text("rules (no trained model yet)")
            expect(page.locator("#versions-empty")).to_be_visible()
            expect(page.locator("#importance-source")).to_contain_text("rules")
            assert page.locator("#importance-bars .bar-fill.cat-behavioral").count() >= 1

            rows = page.locator("#leads-body tr")
            progress = page.locator("#job-progress")
            if world["bulk"]:
                # --- bulk predictions: a live progress bar that ends in a refreshed ranking -------
                expect(page.locator("#leads-empty")).to_contain_text("Run Bulk Predictions")
                page.click("#bulk-run")
                expect(page.locator("#job")).to_be_visible()
                expect(page.locator("#job-result")).to_contain_text("Bulk predictions finished", timeout=120_000)
                assert progress.evaluate("p => p.value === p.max && p.max > 0")
                expect(page.locator("#job-status")).to_contain_text(re.compile(r"(\d+) / \1"))
            else:
                expect(page.locator("#bulk-unavailable")).to_be_visible()
                expect(page.locator("#bulk-run")).to_be_disabled()
            expect(rows).to_have_count(min(25, len(world["open"]) - (0 if world["bulk"] else 1)))
            page.screenshot(path=str(shots / "1-signed-in.png"), full_page=True)

            # --- the ranking: the API's order, paged, every probability shown off 0 and 100 % ---
            ranked = _get(url, headers, f"/{cid}/ml/top-leads?n=1000")["leads"]
            total_ranked = len(ranked)
            assert total_ranked >= 14
            page.select_option("#f-pagesize", "10")
            expect(rows).to_have_count(10)
            shown = [int(x) for x in rows.evaluate_all("rs => rs.map(r => r.dataset.leadId)")]
            assert shown == [lead["leadId"] for lead in ranked[:10]]
            expect(page.locator("#page-info")).to_contain_text(f"1–10 of {total_ranked}")
            page.click("#page-next")
            expect(rows).to_have_count(total_ranked - 10)
            expect(page.locator("#page-next")).to_be_disabled()
            page.click("#page-prev")
            # The page's formatter never prints a probability as certain.
            assert page.evaluate("[pct(0.0004), pct(0.0005), pct(0.9994), pct(0.99996), pct(null)]") == [
                "<0.1%", "0.1%", "99.9%", ">99.9%", "–"]
            probabilities = rows.locator("td:nth-child(5)").all_inner_texts()
            assert probabilities and not any(t in ("0.0%", "100.0%") for t in probabilities)
            first = ranked[0]
            expect(rows.first.locator("td").nth(4)).to_have_text(f"{100 * first['conversionProbability']:.1f}%")

            # Sorting by probability (highest first), then back to rank.
            page.click("#leads-table th[data-sort=conversionProbability] button")
            expect(page.locator("#leads-table th[data-sort=conversionProbability]")).to_have_attribute(
                "aria-sort", "descending")
            best = max(ranked, key=lambda lead: lead["conversionProbability"])
            expect(rows.first.locator("td").nth(4)).to_have_text(f"{100 * best['conversionProbability']:.1f}%")
            page.click("#leads-table th[data-sort=priorityRank] button")
            expect(rows.first).to_have_attribute("data-lead-id", str(ranked[0]["leadId"]))

            # --- filters: tier, minimum probability, search by name / company / email ---------------
            tier = ranked[-1]["priorityTier"]
            page.select_option("#f-tier", tier)
            in_tier = [lead for lead in ranked if lead["priorityTier"] == tier]
            expect(rows).to_have_count(min(10, len(in_tier)))
            assert set(rows.locator(".tier").all_inner_texts()) == {tier}
            page.select_option("#f-tier", "")
            cut = sorted(lead["conversionProbability"] for lead in ranked)[len(ranked) // 2]
            page.fill("#f-minprob", f"{100 * cut:.4f}")
            above = [lead for lead in ranked if lead["conversionProbability"] >= round(100 * cut, 4) / 100]
            expect(rows).to_have_count(min(10, len(above)))
            page.fill("#f-minprob", "")
            page.fill("#f-search", "globex")
            expect(rows).to_have_count(1)
            expect(rows.first).to_have_attribute("data-lead-id", str(named[1]))
            page.fill("#f-search", "evil")  # markup in a name or company is shown as text
            expect(rows).to_have_count(1)
            expect(page.get_by_text(HOSTILE_NAME, exact=True)).to_have_count(1)
            expect(page.get_by_text("Evil <Corp>", exact=True)).to_have_count(1)
            assert page.locator("#leads-body img, #leads-body b").count() == 0
            assert page.evaluate("window.__pwned") is None
            page.fill("#f-search", "IAN@INITECH")
            expect(rows).to_have_count(1)
            page.fill("#f-search", "no such lead")
            expect(page.locator("#leads-empty")).to_have_text("No ranked lead matches these filters.")
            page.fill("#f-search", "acme")
            expect(rows).to_have_count(1)
            page.screenshot(path=str(shots / "2-filtered.png"), full_page=True)

            # --- details: read from the stored prediction, never a new one -------------------------
            stored = _get(url, headers, f"/leads/{named[0]}/ml/prediction")
            totals_before = _get(url, headers, f"/{cid}/ml/accuracy")["totalPredictions"]
            page.locator(f"#leads-body tr[data-lead-id='{named[0]}'] button.lead-name").focus()
            page.keyboard.press("Enter")  # keyboard: the lead's name is a button
            expect(page.locator("#details")).to_be_visible()
            expect(page.locator("#d-lead")).to_have_text("Dana Chief")
            expect(page.locator("#d-explanation")).to_have_text(stored["prediction"]["explanation"])
            expect(page.locator("#d-probability")).to_have_text(f"{100 * stored['prediction']['probability']:.1f}%")
            expect(page.locator("#d-confidence-meaning")).to_have_text(stored["prediction"]["confidenceMeaning"])
            expect(page.locator("#d-days")).to_contain_text("days")
            expect(page.locator("#d-days-note")).to_contain_text("Likely range")
            expect(page.locator("#d-source")).to_contain_text("Source: rules")
            expect(page.locator("#d-breakdown .bar-row")).to_have_count(4)
            assert page.locator("#d-recommendations li").count() >= 1
            assert _get(url, headers, f"/{cid}/ml/accuracy")["totalPredictions"] == totals_before
            page.locator("#details").screenshot(path=str(shots / "3-details.png"))

            # "Was this accurate?" records a validation and updates the counts.
            page.click("#validate-yes")
            expect(page.locator("#validate-message")).to_have_text("Thanks: recorded as accurate.")
            expect(page.locator("#m-validated")).to_have_text("1")
            expect(page.locator("#m-accurate")).to_have_text("1")
            expect(page.locator("#m-accuracy")).to_have_text("100.0%")
            expect(page.locator("#by-type-body tr[data-type=CONVERSION] td").nth(1)).to_have_text("1")
            page.keyboard.press("Escape")
            expect(page.locator("#details")).to_be_hidden()
            page.fill("#f-search", "globex")
            page.locator(f"#leads-body tr[data-lead-id='{named[1]}']").click()
            expect(page.locator("#d-lead")).to_have_text("Vic Sales")
            page.click("#validate-no")
            expect(page.locator("#m-validated")).to_have_text("2")
            expect(page.locator("#m-accurate")).to_have_text("1")
            expect(page.locator("#m-accuracy")).to_have_text("50.0%")
            assert _get(url, headers, f"/{cid}/ml/accuracy")["validatedCount"] == 2

            # Re-score is the explicit way to make a new prediction.
            page.click("#rescore")
            expect(page.locator("#d-status")).to_contain_text("Re-scored")
            expect(page.locator("#m-total")).to_have_text(str(totals_before + 1))
            page.fill("#f-search", "")

            # A lead with no stored prediction says so, and Re-score creates one.
            if not world["bulk"]:
                page.fill("#score-lead-id", "999999")
                page.click("#score-form button")
                expect(page.locator("#score-message")).to_contain_text("Could not score lead #999999")
                page.fill("#score-lead-id", str(named[4]))
                page.click("#score-form button")
                expect(page.locator("#score-message")).to_contain_text(f"Lead #{named[4]}")
                now_ranked = len(_get(url, headers, f"/{cid}/ml/top-leads?n=1000")["leads"])
                expect(page.locator("#page-info")).to_contain_text(f"of {now_ranked} ")
                page.fill("#f-search", "umbrella")
                expect(rows).to_have_count(1)
                expect(rows.first).to_have_attribute("data-lead-id", str(named[4]))
                page.fill("#f-search", "")

            # --- training: progress, then the new version's metrics and whether it was promoted ----
            page.click("#train-run")
            expect(page.locator("#job-title")).to_have_text("Training")
            expect(page.locator("#job-result")).to_contain_text("Trained conversion model v1", timeout=120_000)
            expect(page.locator("#job-result")).to_contain_text("Promoted")
            assert progress.evaluate("p => p.value === p.max && p.max > 0")
            expect(page.locator("#m-model")).to_have_text("model v1")
            expect(page.locator("#m-auc")).to_have_text(re.compile(r"^0\.\d{3}$"))
            expect(page.locator("#importance-source")).to_have_text("(trained model v1)")
            assert page.locator("#calibration-chart circle").count() >= 2
            versions = page.locator("#versions-body tr")
            expect(versions.filter(has_text="Conversion")).to_have_count(1)
            expect(versions.filter(has_text="Conversion").locator(".status")).to_have_text("active")
            page.screenshot(path=str(shots / "4-trained.png"), full_page=True)

            # A second training: promoted or not, the other version can be re-activated from the list.
            page.click("#train-run")
            expect(page.locator("#job-result")).to_contain_text("Trained conversion model v2", timeout=120_000)
            conversion = versions.filter(has_text="Conversion")
            expect(conversion).to_have_count(2)
            inactive = conversion.filter(has=page.locator("button[data-activate]"))
            expect(inactive).to_have_count(1)
            version_text = inactive.locator("td").nth(1).inner_text()
            inactive.locator("button").click()
            expect(page.locator("#job-result")).to_contain_text(f"model {version_text} is active again")
            expect(page.locator("#m-model")).to_have_text(f"model {version_text}")

            # --- a phone-sized window: one column, nothing wider than the screen ------------------
            page.set_viewport_size({"width": 390, "height": 800})
            assert page.evaluate("document.documentElement.scrollWidth") <= 391
            page.screenshot(path=str(shots / "5-phone.png"), full_page=True)
            page.set_viewport_size({"width": 1280, "height": 900})

            page.click("text=Sign out")
            expect(page.locator("#apiKey")).to_be_visible()
            assert problems == []
            # The only failed requests: the wrong key, and scoring a lead that does not exist.
            expected = ["401 /login"] + ([] if world["bulk"] else [f"404 {BASE}/leads/999999/ml/predict"])
            assert failed == expected
        finally:
            browser.close()


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


def test_details_show_what_the_language_model_did(sqlite_engine, tmp_path, make_tenant_for):
    """With the LLM on (a local OpenAI-compatible server), the details panel shows its metadata."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (the test command installs Debian's chromium): browser test skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (in the test extras)")
    from leadml.api.app import create_app
    from leadml.config import Settings
    from llm_server import LlmServer

    llm = LlmServer().start()
    try:
        settings = Settings(database_url="sqlite://unused", data_dir=tmp_path / "var", session_secret="s" * 40,
                            llm_base_url=llm.url, llm_api_key="test-key", llm_timeout_seconds=5.0)
        app = create_app(settings, engine=sqlite_engine)
        headers = make_tenant_for(app)
        with _serve(app) as url, httpx.Client(base_url=url + BASE, headers=headers, timeout=30) as http:
            config = http.post("/configs", json={"name": "narrated", "llmEnabled": True, "llmMode": "narrative"}).json()
            now = datetime.now(UTC)
            lead_id = http.post(f"/{config['id']}/leads", json={"leads": [
                {"email": "kim@northwind.com", "name": "Kim Park", "title": "VP of Sales", "company": "Northwind",
                 "createdAt": _iso_days_ago(now, 15)}]}).json()["leads"][0]["id"]
            http.post(f"/{config['id']}/activities", json={"activities": [
                {"leadId": lead_id, "type": t, "occurredAt": _iso_days_ago(now, 5 - i), "eventId": f"k{i}"}
                for i, t in enumerate(["email_open", "page_view", "form_submit", "meeting"])]})
            stored = http.post(f"/leads/{lead_id}/ml/predict", json={}).json()["prediction"]
            assert stored["llmMetadata"]["status"] == "ok"
            with sync_api.sync_playwright() as p:
                browser = _browser(sync_api, p)
                try:
                    page = browser.new_page(viewport={"width": 1100, "height": 900})
                    _sign_in(page, url, headers)
                    sync_api.expect(page.locator("#leads-body tr")).to_have_count(1)
                    page.locator("#leads-body tr").first.click()
                    llm_box = page.locator("#d-llm")
                    sync_api.expect(llm_box).to_be_visible()
                    sync_api.expect(llm_box.locator("dd").first).to_have_text(llm.model)
                    sync_api.expect(llm_box).to_contain_text("1,200")  # prompt + completion tokens
                    sync_api.expect(page.locator("#d-explanation")).to_have_text(stored["explanation"])
                    page.locator("#details").screenshot(path=str(_shots_dir(tmp_path) / "6-llm-details.png"))
                finally:
                    browser.close()
    finally:
        llm.stop()
