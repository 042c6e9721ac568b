"""Settings, read from LEADML_* environment variables when asked for (never at import)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
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
    # Signs the ML Insights page's session cookie and its CSRF token. No default: when unset, a random
    # secret is generated once per installation and stored in the database (server_secrets), so every
    # server process on the same database shares it. A value given here must be at least 32 characters.
    session_secret: SecretStr | None = None
    # Page sessions are stored server-side, bound to the API key that opened them (revoking the key or
    # signing out ends them) and expire after this many minutes.
    session_lifetime_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # The cookie's Secure flag: None = automatic (Secure unless the server listens on loopback and the
    # request came over plain http); true/false forces it.
    session_cookie_secure: bool | None = None
    # Largest request body accepted (bytes); larger bodies answer 413 before they are read in full.
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Per-key token buckets (one server process; see docs/security.md): sustained requests per second
    # and burst size. 0 disables a limit.
    rate_limit_per_second: float = Field(default=50.0, ge=0)
    rate_limit_burst: int = Field(default=500, ge=1)
    # Failed authentication (bad or revoked key, expired session) and sign-in attempts, per client
    # address: so many per minute, then 429 until the bucket refills.
    auth_failures_per_minute: float = Field(default=20.0, ge=0)
    login_attempts_per_minute: float = Field(default=10.0, ge=0)
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

    @field_validator("session_secret", mode="before")
    @classmethod
    def _strong_secret(cls, value):
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is None or raw == "":
            return None  # generated and stored per installation
        if len(str(raw)) < 32:
            raise ValueError("LEADML_SESSION_SECRET must be at least 32 characters (or leave it unset: a random "
                             "secret is then generated once and stored in the database)")
        return value


def get_settings(**overrides) -> Settings:
    return Settings(**overrides)
