"""Settings, read from LEADML_* environment variables when asked for (never at import)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
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
    # Optional OpenAI-compatible LLM (switched on per scoring config; see README "The LLM").
    llm_base_url: str | None = Field(default=None, description="e.g. http://localhost:11434/v1; unset = OpenAI")
    llm_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("llm_api_key", "LEADML_LLM_API_KEY", "OPENAI_API_KEY"))
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = Field(default=10.0, gt=0)
    llm_retries: int = Field(default=1, ge=0, le=5, description="retries after a 5xx or a short Retry-After")
    llm_retry_backoff_seconds: float = Field(default=0.5, ge=0)
    llm_max_retry_after_seconds: float = Field(default=5.0, ge=0, description="longer Retry-After: fall back")
    llm_calls_per_minute: float = Field(default=60.0, gt=0, description="per tenant")
    llm_breaker_failures: int = Field(default=5, ge=1, description="consecutive failures that open the circuit")
    llm_breaker_cooldown_seconds: float = Field(default=60.0, ge=0)
    llm_temperature: float = Field(default=0.2, ge=0, le=2)
    llm_max_tokens: int = Field(default=800, ge=64)
    llm_max_probability_shift: float = Field(default=0.3, gt=0, le=1, description="predictor mode bound")
    llm_bulk_concurrency: int = Field(default=4, ge=1, le=32)
    # USD per 1M (input, output) tokens, merged over the built-in table, e.g. {"llama3.1": [0, 0]}.
    llm_prices: dict[str, tuple[float, float]] = Field(default_factory=dict)
    # Opt-in lead text (redacted, quoted): any of title, company, pipelineStage. Default: none.
    llm_send_lead_fields: list[str] = Field(default_factory=list)
    llm_send_attributes: list[str] = Field(default_factory=list, description="custom attribute names")
    # Minimum outcomes before a trained model is trusted.
    min_converted: int = 40
    min_lost: int = 40
    # Minimum closed (converted) leads before a time-to-close model is trained and trusted.
    min_ttc_train_closures: int = 40
    min_ttc_holdout_closures: int = 20
    retrain_after_outcomes: int = 0  # 0 = never automatically
    log_level: str = "INFO"


def get_settings(**overrides) -> Settings:
    return Settings(**overrides)
