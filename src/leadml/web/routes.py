"""The ML Insights page: sign in with an API key, then a server-rendered page driven by the JSON API.

The page keeps the tenant in the signed session cookie (HTTP-only, set by SessionMiddleware); the
JSON API's TenantDep accepts that cookie, so the page's fetch() calls need no key in JavaScript.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from leadml import errors
from leadml.api.deps import SessionDep
from leadml.predict.rules_spec import CATEGORY_WEIGHTS
from leadml.storage import tenants
from leadml.storage.tables import Tenant

API_BASE = "/api/lead-scoring"
HERE = Path(__file__).resolve().parent
STATIC_FILES = {"insights.js": "text/javascript", "insights.css": "text/css"}

templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


def _login_page(request: Request, *, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"error": error}, status_code=status_code)


@router.get("/", response_class=HTMLResponse)
def insights(request: Request, session: SessionDep) -> Response:
    tenant_id = request.session.get("tenant_id")
    tenant = session.get(Tenant, int(tenant_id)) if tenant_id is not None else None
    if tenant is None:
        request.session.clear()  # a deleted tenant's cookie must not linger
        return _login_page(request)
    return templates.TemplateResponse(request, "insights.html", {
        "tenant_name": tenant.name, "api_base": API_BASE,
        # Maximum points per score category, so the breakdown bars share one honest scale.
        "category_max": CATEGORY_WEIGHTS,
    })


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, session: SessionDep, api_key: Annotated[str, Form(alias="apiKey")] = "") -> Response:
    if not api_key.strip():
        return _login_page(request, error="Enter an API key.", status_code=401)
    try:
        tenant_id = tenants.tenant_id_for_key(session, api_key.strip())
    except errors.Unauthorized:
        return _login_page(request, error="That API key is not valid (or has been revoked).", status_code=401)
    request.session.clear()
    request.session["tenant_id"] = tenant_id
    return RedirectResponse("/", status_code=303)


@router.get("/logout")
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/", status_code=303)


@router.get("/static/{name}")
def static(name: str) -> Response:
    # A fixed list rather than a directory mount: nothing else under web/ can be served by accident.
    if name not in STATIC_FILES:
        raise errors.NotFound(f"static file {name!r} not found")
    return FileResponse(HERE / "static" / name, media_type=STATIC_FILES[name],
                        headers={"Cache-Control": "no-cache"})
