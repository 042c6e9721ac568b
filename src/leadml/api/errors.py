"""One place maps domain errors and validation failures to `{error, code, details}` responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadml import errors

STATUS = {
    errors.NotFound: 404,
    errors.InvalidInput: 422,
    errors.Conflict: 409,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.RateLimited: 429,
    errors.ModelNotReady: 409,
    errors.LLMUnavailable: 503,
}


def error_response(status: int, message: str, code: str, details=None, headers=None) -> JSONResponse:
    body = {"error": message, "code": code, "details": jsonable_encoder(details)}
    return JSONResponse(status_code=status, content=body, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.LeadMLError)
    async def _domain(_request: Request, exc: errors.LeadMLError):
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, errors.RateLimited):
            headers = {"Retry-After": str(int(exc.retry_after))}
        return error_response(status, exc.message, exc.code, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        details = [
            {"loc": list(err.get("loc", ())), "message": err.get("msg", ""), "type": err.get("type", "")}
            for err in exc.errors()
        ]
        return error_response(422, "request validation failed", "validation_error", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 413: "payload_too_large",
                400: "bad_request"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, str(exc.detail), code, None, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception):  # pragma: no cover - last resort
        return error_response(500, "internal error", "internal_error", type(exc).__name__)
