"""Liveness and readiness, outside the base path and without auth."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/health")
def health():
    return {"status": "ok"}


@router.get("/ready")
def ready(request: Request):
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # the database is the one thing we need to serve
        return JSONResponse(status_code=503, content={"error": "database unavailable", "code": "not_ready",
                                                      "details": type(exc).__name__})
    return {"status": "ready"}
