"""An OpenAPI document that matches what the API answers.

FastAPI documents its own `{detail: [...]}` validation error; every error here is `{error, code,
details}`. The document is post-processed once: each operation lists the error answers it can give
(derived from what it takes and whether it needs a key), all with the Error schema, so routes added
later are covered without listing errors by hand. A route may still declare more (e.g. 503).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from leadml.api.schemas import ErrorOut

ERROR_REF = {"$ref": "#/components/schemas/Error"}
DESCRIPTIONS = {
    "400": "Bad request (the body could not be read)",
    "401": "Missing, invalid or revoked API key, or an expired page session",
    "403": "A cookie-authenticated write from another origin without the CSRF token",
    "404": "Not found (a resource of another tenant answers exactly like one that does not exist)",
    "409": "Conflict with the current state (e.g. a job already running, a duplicate identity)",
    "413": "Request body over the size limit",
    "422": "Invalid input: `details` lists each problem as {loc, message, type}",
    "429": "Rate limited: retry after the number of seconds in the Retry-After header",
    "503": "A dependency is unavailable",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
WRITES = {"post", "put", "patch", "delete"}


def _error_response(status: str, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description or DESCRIPTIONS.get(status, "Error"),
                                "content": {"application/json": {"schema": ERROR_REF}}}
    if status == "429":
        response["headers"] = RETRY_AFTER
    return response


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ErrorOut.model_json_schema()
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "head", "post", "put", "patch", "delete", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            statuses = {s for s in responses if s.startswith(("4", "5"))}
            if operation.get("parameters") or operation.get("requestBody"):
                statuses.add("422")
            if operation.get("requestBody"):
                statuses |= {"400", "413"}
            if "{" in path:
                statuses.add("404")
            if operation.get("security"):
                statuses |= {"401", "429"}
                if method in WRITES:
                    statuses |= {"403", "409"}
            for status in statuses:
                declared = responses.get(status, {})
                description = declared.get("description")
                if description in (None, "Validation Error", "Successful Response"):
                    description = None
                responses[status] = _error_response(status, description)
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
            ))
        return app.openapi_schema

    app.openapi = openapi
