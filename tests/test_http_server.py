"""The API behind a real uvicorn server on loopback, driven by an HTTP client."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn

BASE = "/api/lead-scoring"


@pytest.fixture
def server(app):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_walk_through_over_real_http(server, make_tenant):
    headers = make_tenant("http-tenant")
    with httpx.Client(base_url=server, headers=headers, timeout=10) as http:
        assert http.get("/health").json() == {"status": "ok"}
        config = http.post(f"{BASE}/configs", json={"name": "main"}).json()
        leads = [{"externalId": f"L{i}", "title": "Director of IT" if i % 2 else "Analyst", "company": "Acme Corp."}
                 for i in range(40)]
        created = http.post(f"{BASE}/{config['id']}/leads", json={"leads": leads}).json()
        assert created["created"] == 40
        ids = [lead["id"] for lead in created["leads"]]

        def score(lead_id):
            with httpx.Client(base_url=server, headers=headers, timeout=10) as c:
                return c.post(f"{BASE}/leads/{lead_id}/ml/predict", json={}).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(score, ids)) == {200}
        listing = http.get(f"{BASE}/{config['id']}/leads", params={"limit": 10, "offset": 35}).json()
        assert listing["total"] == 40 and len(listing["leads"]) == 5
        bad = http.post(f"{BASE}/{config['id']}/leads", content=b"[", headers={"Content-Type": "application/json"})
        assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
        unauth = httpx.get(f"{server}{BASE}/configs")
        assert unauth.status_code == 401 and unauth.headers["www-authenticate"] == "Bearer"
        assert "leadml_http_request_seconds_bucket" in http.get("/metrics").text
