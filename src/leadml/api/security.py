"""Request hardening shared by the API and the page.

- `Guard`, an ASGI middleware: refuses bodies over the size limit (413) before reading them in full,
  refuses JSON that the models could not store safely (non-finite numbers, NUL characters, lone
  surrogates, invalid UTF-8, nesting deeper than MAX_JSON_DEPTH) with a 422 in the error shape, and
  adds the security headers (CSP, X-Frame-Options, nosniff, Referrer-Policy) to every response.
- The page-session cookie: a random token signed with the installation's session secret (so a
  forged or altered cookie is refused before any lookup), stored hashed server-side.
- CSRF: cookie-authenticated writes must come from the page's own origin (Origin or Referer
  header) or carry the session's CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import threading
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadml import db, errors
from leadml.config import Settings
from leadml.storage import tenants

COOKIE = "leadml_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_JSON_DEPTH = 32
SECRET_NAME = "session_secret"

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# FastAPI's interactive docs load Swagger UI / ReDoc from a CDN and start them with an inline script.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https:; connect-src 'self'; "
            "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")


# --- the session secret and cookie ---------------------------------------------------------------

class SessionKeys:
    """The signing secret (from settings, else generated once per installation and stored in the
    database), read lazily on first use and kept for the app's life."""

    def __init__(self, settings: Settings, session_factory) -> None:
        self._configured = settings.session_secret.get_secret_value() if settings.session_secret else None
        self._sessions = session_factory
        self._secret: str | None = None
        self._lock = threading.Lock()

    @property
    def secret(self) -> str:
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    if self._configured:
                        self._secret = self._configured
                    else:
                        with db.transaction(self._sessions) as session:
                            self._secret = tenants.installation_secret(session, SECRET_NAME)
        return self._secret

    def _signer(self) -> Signer:
        return Signer(self.secret, salt="leadml.page-session")

    def cookie_value(self, token: str) -> str:
        return self._signer().sign(token).decode()

    def token_of(self, cookie: str | None) -> str | None:
        """The session token in a cookie, or None for a missing, forged or altered cookie."""
        if not cookie:
            return None
        try:
            return self._signer().unsign(cookie).decode()
        except (BadSignature, UnicodeError):
            return None

    def csrf_token(self, token: str) -> str:
        return hmac.new(self.secret.encode(), b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cookie_secure(request: Request, settings: Settings) -> bool:
    if settings.session_cookie_secure is not None:
        return settings.session_cookie_secure
    return request.url.scheme == "https" or not is_loopback(settings.host)


def set_session_cookie(response: Response, request: Request, settings: Settings, value: str) -> None:
    response.set_cookie(COOKIE, value, max_age=settings.session_lifetime_minutes * 60, path="/", httponly=True,
                        samesite="lax", secure=cookie_secure(request, settings))


def clear_session_cookie(response: Response, request: Request, settings: Settings) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=cookie_secure(request, settings))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- CSRF ------------------------------------------------------------------------------------------

def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}".lower()


def check_same_origin(request: Request, *, csrf_expected: str | None = None, required: bool = True) -> None:
    """Refuse a cookie-authenticated write that did not come from this site's own pages.

    A foreign Origin (or Referer) is always refused; without either header the write needs the
    CSRF token, unless `required` is false (sign-in: a script without a browser may post the form)."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is None and (referer := request.headers.get("referer")):
        origin = _origin_of(referer) or "null"
    if origin is not None:
        if origin.lower() == own_origin(request):
            return
        raise errors.Forbidden("cross-site request refused: the Origin is not this server",
                               details={"origin": origin[:200]})
    if not required:
        return
    sent = request.headers.get(CSRF_HEADER)
    if csrf_expected and sent and hmac.compare_digest(sent, csrf_expected):
        return
    raise errors.Forbidden(f"a cookie-authenticated write needs the Origin header or the {CSRF_HEADER} header",
                           details={"header": CSRF_HEADER})


# --- the ASGI guard: body limit, JSON sanity, security headers --------------------------------------

class _Unsafe(ValueError):
    def __init__(self, loc: list, message: str, kind: str) -> None:
        super().__init__(message)
        self.loc, self.message, self.kind = loc, message, kind


def _no_constants(name: str) -> float:
    raise _Unsafe([], f"{name} is not a number JSON allows; send finite numbers only", "finite_number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Unsafe([], f"number {text[:40]} is out of range; send finite numbers only", "finite_number")
    return value


def _check_text(text: str, loc: list) -> None:
    if "\x00" in text:
        raise _Unsafe(loc, "text must not contain NUL characters", "string_nul")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Unsafe(loc, "text must be valid Unicode (a lone surrogate was sent)", "string_unicode") from None


def check_json_value(value: Any, loc: list | None = None, depth: int = 0) -> None:
    """Every string (keys too) storable as UTF-8 without NUL; nesting bounded."""
    loc = loc or []
    if depth > MAX_JSON_DEPTH:
        raise _Unsafe(loc, f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "json_depth")
    if isinstance(value, str):
        _check_text(value, loc)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, [*loc, key[:50]])
            check_json_value(item, [*loc, key[:50]], depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json_value(item, [*loc, index], depth + 1)


def inspect_json(body: bytes) -> _Unsafe | None:
    """What is unsafe in a JSON body (None = nothing; malformed JSON is left to the app's parser)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _Unsafe(["body"], f"the body is not valid UTF-8 (byte {exc.start})", "utf8")
    try:
        value = json.loads(text, parse_constant=_no_constants, parse_float=_finite_float)
    except _Unsafe as exc:
        exc.loc = ["body", *exc.loc]
        return exc
    except RecursionError:
        return _Unsafe(["body"], f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "json_depth")
    except ValueError:
        return None  # malformed: FastAPI answers it with its own 422
    try:
        check_json_value(value)
    except _Unsafe as exc:
        exc.loc = ["body", *exc.loc]
        return exc
    return None


def _error(status: int, message: str, code: str, details=None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message, "code": code, "details": details})


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "" or media == "application/json" or media.endswith("+json")


class Guard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = DOCS_CSP if path.startswith(DOCS_PATHS) else PAGE_CSP
        api = path.startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [(b"content-security-policy", csp.encode()), (b"x-frame-options", b"DENY"),
                         (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
                if api:
                    extra.append((b"cache-control", b"no-store"))
                headers.extend((name, value) for name, value in extra if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        request_headers = {name.lower(): value for name, value in scope.get("headers", [])}
        declared = request_headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_body_bytes
            except ValueError:
                too_big = False
            if too_big:
                await self._refuse_size(scope, receive, send_with_headers)
                return
        if scope.get("method") in SAFE_METHODS:
            await self.app(scope, receive, send_with_headers)
            return
        # Read the body (bounded), inspect it, then replay it to the app.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._refuse_size(scope, receive, send_with_headers, drain=False)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = request_headers.get(b"content-type", b"").decode("latin-1")
        if body and _is_json(content_type):
            problem = inspect_json(body)
            if problem is not None:
                response = _error(422, "request validation failed", "validation_error",
                                  [{"loc": problem.loc, "message": problem.message, "type": problem.kind}])
                await response(scope, receive, send_with_headers)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_headers)

    async def _refuse_size(self, scope, receive, send, drain: bool = True) -> None:
        response = _error(413, f"request body larger than {self.max_body_bytes} bytes", "payload_too_large",
                          {"maxBytes": self.max_body_bytes})
        response.headers["connection"] = "close"
        await response(scope, receive, send)
