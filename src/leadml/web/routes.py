"""The ML Insights page: sign in with an API key, then a server-rendered page driven by the JSON API.

Signing in stores a server-side session bound to the key (see storage/tenants.py) and sets an
HTTP-only, SameSite=Lax cookie carrying its signed random token (api/security.py). The JSON API's
TenantDep accepts that cookie, so the page's fetch() calls need no key in JavaScript; writes made
with it must come from this origin (browsers send Origin on fetch POSTs) or carry X-CSRF-Token.
Sign-in attempts are rate-limited per client address.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from leadml import errors
from leadml.api import security
from leadml.api.deps import SessionDep, SettingsDep, page_principal
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
def insights(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    principal = page_principal(request, session)
    tenant = session.get(Tenant, principal.tenant_id) if principal is not None else None
    if tenant is None:
        response = _login_page(request)
        if security.COOKIE in request.cookies:  # an expired, signed-out or revoked session's cookie
            security.clear_session_cookie(response, request, settings)
        return response
    keys: security.SessionKeys = request.app.state.session_keys
    token = keys.token_of(request.cookies.get(security.COOKIE))
    return templates.TemplateResponse(request, "insights.html", {
        "tenant_name": tenant.name, "api_base": API_BASE,
        # Maximum points per score category, so the breakdown bars share one honest scale.
        "category_max": CATEGORY_WEIGHTS,
        # For writes that cannot send Origin: the X-CSRF-Token header value of this session.
        "csrf_token": keys.csrf_token(token),
    })


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, session: SessionDep, settings: SettingsDep,
          api_key: Annotated[str, Form(alias="apiKey", max_length=200)] = "") -> Response:
    limits = request.app.state.rate_limits
    client = security.client_address(request)
    keys: security.SessionKeys = request.app.state.session_keys
    keys.secret  # noqa: B018 - read (or create, in its own transaction) before this request writes anything
    try:
        security.check_same_origin(request, required=False)  # no signing a victim into the attacker's tenant (login CSRF)
        limits.check_login(client)
        limits.check_not_locked_out(client)
    except errors.Forbidden:
        return _login_page(request, error="Sign in from this site's own page.", status_code=403)
    except errors.RateLimited as exc:
        response = _login_page(request, error=f"Too many sign-in attempts; try again in {exc.retry_after} s.",
                               status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if not api_key.strip():
        return _login_page(request, error="Enter an API key.", status_code=401)
    try:
        principal = tenants.authenticate_key(session, api_key.strip())
    except errors.Unauthorized:
        limits.record_failure(client)
        return _login_page(request, error="That API key is not valid (or has been revoked).", status_code=401)
    old = keys.token_of(request.cookies.get(security.COOKIE))
    if old:
        tenants.close_web_session(session, old)  # a fresh session on every sign-in (no fixation)
    token = tenants.open_web_session(session, principal=principal,
                                     lifetime=timedelta(minutes=settings.session_lifetime_minutes))
    response = RedirectResponse("/", status_code=303)
    security.set_session_cookie(response, request, settings, keys.cookie_value(token))
    return response


@router.api_route("/logout", methods=["GET", "POST"])
def logout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Ends the session on the server (the cookie stops working everywhere), then clears it."""
    token = request.app.state.session_keys.token_of(request.cookies.get(security.COOKIE))
    if token:
        tenants.close_web_session(session, token)
    response = RedirectResponse("/", status_code=303)
    security.clear_session_cookie(response, request, settings)
    return response


@router.get("/static/{name}")
def static(name: str) -> Response:
    # A fixed list rather than a directory mount: nothing else under web/ can be served by accident.
    if name not in STATIC_FILES:
        raise errors.NotFound(f"static file {name!r} not found")
    return FileResponse(HERE / "static" / name, media_type=STATIC_FILES[name],
                        headers={"Cache-Control": "no-cache"})
