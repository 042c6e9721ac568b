"""The app factory: no globals, everything hangs off app.state."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from leadml import db
from leadml.api import errors as api_errors
from leadml.api import metrics
from leadml.api.routes import configs, health, leads, models, predictions, ranking
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
        app.state.jobs.recover()  # jobs whose process died (kill -9, crash) are closed, never left "running"
        yield
        app.state.jobs.shutdown()

    app = FastAPI(title="leadml", version="0.1.0", description="Self-hosted lead scoring API", lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = db.make_session_factory(engine)
    app.state.model_loader = ModelLoader()
    app.state.llm = LlmService.from_settings(settings)  # used only for configs with llmEnabled
    app.state.jobs = JobService(engine, app.state.session_factory, settings)
    app.add_middleware(SessionMiddleware, secret_key=settings.session_secret, https_only=False, same_site="lax")
    api_errors.install(app)
    metrics.install(app)
    app.include_router(health.router)
    for module in (configs, leads, predictions, models, ranking):
        app.include_router(module.router, prefix=BASE_PATH)
    app.include_router(web_routes.router)  # the ML Insights page, outside the API base path
    return app
