"""The app's routes as (method, full path, path parameter names), flattened across included routers."""

from __future__ import annotations

from fastapi import routing
from fastapi.routing import APIRoute


def api_routes(app, *, in_schema_only: bool = False) -> list[tuple[str, str, list[str]]]:
    if hasattr(routing, "iter_route_contexts"):  # FastAPI versions that keep included routers nested
        entries = [(ctx.path, ctx.methods, list(ctx.param_convertors or {}), ctx.original_route)
                   for ctx in routing.iter_route_contexts(app.routes)]
    else:
        entries = [(r.path, r.methods, list(r.param_convertors), r) for r in app.routes]
    out = []
    for path, methods, params, original in entries:
        if not isinstance(original, APIRoute) or (in_schema_only and not original.include_in_schema):
            continue
        out.extend((method, path, params) for method in sorted(methods or ()))
    return out
