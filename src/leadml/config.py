"""Settings, read from LEADML_* environment variables when asked for (never at import)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADML_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/leadml.db",
        description="SQLAlchemy URL; sqlite:///path (default) or postgresql+psycopg://...",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    # Where trained model artifacts and reports go (relative to the working directory).
    data_dir: Path = Path("./var")
    session_secret: str = Field(default="change-me-leadml-session-secret")
    # Optional OpenAI-compatible LLM.
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = 10.0
    # Minimum outcomes before a trained model is trusted.
    min_converted: int = 40
    min_lost: int = 40
    retrain_after_outcomes: int = 0  # 0 = never automatically
    log_level: str = "INFO"


def get_settings(**overrides) -> Settings:
    return Settings(**overrides)
