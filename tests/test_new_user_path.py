"""The new user's path, for real: `leadml demo --no-serve` on a fresh database in its own process, then
`leadml serve` (a real uvicorn process), sign in, the ML Insights page's API calls, a restart, the page
in headless Chromium; then a training job whose server is killed with SIGKILL mid-run.

Each backend's demo is prepared once for the module (a small one: 1,500 leads)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from live_server import BACKENDS, Servers, leadml, new_database

BASE = "/api/lead-scoring"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module", params=BACKENDS)
def demo(request, tmp_path_factory):
    """A database prepared by `leadml demo --no-serve --leads 1500` in a fresh process, and servers on it."""
    directory = tmp_path_factory.mktemp(f"demo-{request.param}")
    url, drop = new_database(request.param, directory)
    done = leadml(["demo", "--no-serve", "--leads", "1500"], url, directory / "var")
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("lml_"), done.stdout
    assert "conversion model v1" in done.stderr and "(active)" in done.stderr, done.stderr
    servers = Servers(url, directory)
    yield {"url": url, "key": key, "servers": servers, "backend": request.param}
    servers.close()
    drop()


@contextmanager
def signed_in(server_url: str, key: str) -> Iterator[httpx.Client]:
    """A client signed in through the page's form (the session cookie carries the tenant)."""
    with httpx.Client(base_url=server_url, timeout=30) as client:
        response = client.post("/login", data={"apiKey": key}, follow_redirects=False)
        assert response.status_code == 303, response.text
        yield client


def insights_api(client: httpx.Client) -> dict:
    """What the ML Insights page asks for, each answered 200."""
    configs = client.get(f"{BASE}/configs")
    assert configs.status_code == 200, configs.text
    config_id = configs.json()["configs"][0]["id"]
    answers = {}
    for name, path in [("accuracy", "ml/accuracy"), ("models", "ml/models"),
                       ("importance", "ml/feature-importance"), ("top", "ml/top-leads?n=25")]:
        response = client.get(f"{BASE}/{config_id}/{path}")
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        answers[name] = response.json()
    active = [m for m in answers["models"]["models"] if m["kind"] == "conversion" and m["status"] == "active"]
    assert len(active) == 1, answers["models"]
    assert answers["importance"]["source"] == "model" and answers["importance"]["modelVersion"] == active[0]["version"]
    assert len(answers["top"]["leads"]) > 0, "no ranked leads"
    assert answers["accuracy"]["totalPredictions"] > 0
    return {"config_id": config_id, "version": active[0]["version"],
            "top": [lead["leadId"] for lead in answers["top"]["leads"]]}


def check_page_in_chromium(server_url: str, key: str, version: int) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: browser check skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            failed: list[str] = []
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(server_url + "/")
            page.fill("#apiKey", key)
            page.click("button[type=submit]")
            page.wait_for_selector("#leads-body tr", timeout=30_000)
            page.wait_for_function("document.querySelector('#m-model').textContent.startsWith('model v')",
                                   timeout=30_000)
            assert page.text_content("#m-model") == f"model v{version}"
            assert page.locator("#leads-body tr").count() > 0
            assert page.is_hidden("#page-message"), page.text_content("#page-message")
            assert page.text_content("#importance-source") == f"(trained model v{version})"
            assert failed == []
        finally:
            browser.close()


def test_demo_then_serve_then_restart(demo):
    server = demo["servers"].start()
    with signed_in(server.url, demo["key"]) as client:
        first = insights_api(client)
    check_page_in_chromium(server.url, demo["key"], first["version"])
    server.stop()

    server = demo["servers"].start()  # the same database after a restart: everything still there
    with signed_in(server.url, demo["key"]) as client:
        again = insights_api(client)
    assert again == first
    check_page_in_chromium(server.url, demo["key"], again["version"])
    server.stop()


def _job(client: httpx.Client, job_id: int) -> dict:
    response = client.get(f"{BASE}/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_a_training_job_survives_kill_9_of_its_server(demo):
    server = demo["servers"].start()
    headers = {"Authorization": f"Bearer {demo['key']}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        config_id = client.get(f"{BASE}/configs").json()["configs"][0]["id"]
        started = client.post(f"{BASE}/{config_id}/ml/train")
        assert started.status_code == 202, started.text
        job_id = started.json()["jobId"]
        deadline = time.monotonic() + 60
        while (status := _job(client, job_id)["status"]) == "queued" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert status == "running", status
    server.kill()

    server = demo["servers"].start()
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        orphan = _job(client, job_id)
        assert orphan["status"] == "failed" and "stopped before it finished" in orphan["error"], orphan
        assert orphan["finishedAt"] is not None
        again = client.post(f"{BASE}/{config_id}/ml/train")  # not refused with 409 by the dead job
        assert again.status_code == 202, again.text
        new_id = again.json()["jobId"]
        deadline = time.monotonic() + 300
        while (job := _job(client, new_id))["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert job["status"] == "succeeded", job
        # Cancelling a finished job changes nothing.
        assert client.post(f"{BASE}/jobs/{job_id}/cancel").json()["status"] == "failed"
    with signed_in(server.url, demo["key"]) as client:
        insights_api(client)
    server.stop()
