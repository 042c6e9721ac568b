"""The app factory: no globals, everything hangs off app.state."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from leadml import db
from leadml.api import errors as api_errors
from leadml.api import metrics, openapi, security
from leadml.api.ratelimit import RateLimits
from leadml.api.routes import bulk, configs, health, leads, models, predictions, ranking
from leadml.config import Settings, get_settings
from leadml.jobs.service import JobService
from leadml.scoring.llm_client import LlmService
from leadml.scoring.models import ModelLoader
from leadml.web import routes as web_routes

BASE_PATH = "/api/lead-scoring"


def create_app(settings: Settings | None = None, *, engine=None) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or db.make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Bulk jobs a dead process left unfinished resume after their last written chunk; any other job
        # of a dead process (kill -9, crash) is closed, never left "running". Configs with a refresh
        # interval get their expired or changed leads re-scored.
        app.state.jobs.resume_bulk(app.state.model_loader)
        app.state.jobs.recover()
        app.state.jobs.start_refresh_timer(app.state.model_loader)
        yield
        app.state.jobs.shutdown()

    app = FastAPI(title="leadml", version="0.1.0", description="Self-hosted lead scoring API", lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = db.make_session_factory(engine)
    app.state.model_loader = ModelLoader()
    app.state.llm = LlmService.from_settings(settings)  # used only for configs with llmEnabled
    app.state.jobs = JobService(engine, app.state.session_factory, settings)
    # The page's sessions live in the database; the secret signs their cookies (see api/security.py).
    app.state.session_keys = security.SessionKeys(settings, app.state.session_factory)
    app.state.rate_limits = RateLimits(settings)
    api_errors.install(app)
    metrics.install(app)
    # Outermost: body size limit, JSON sanity and security headers for every response.
    app.add_middleware(security.Guard, max_body_bytes=settings.max_body_bytes)
    openapi.install(app)
    app.include_router(health.router)
    for module in (configs, leads, predictions, models, ranking, bulk):
        app.include_router(module.router, prefix=BASE_PATH)
    app.include_router(web_routes.router)  # the ML Insights page, outside the API base path
    return app
