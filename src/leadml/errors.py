"""Domain errors. They carry no HTTP knowledge; api/errors.py maps them to responses."""

from __future__ import annotations

from typing import Any


class LeadMLError(Exception):
    code = "error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(LeadMLError):
    code = "not_found"


class InvalidInput(LeadMLError):
    code = "invalid_input"


class Conflict(LeadMLError):
    code = "conflict"


class Unauthorized(LeadMLError):
    code = "unauthorized"


class ModelNotReady(LeadMLError):
    code = "model_not_ready"


class LLMUnavailable(LeadMLError):
    code = "llm_unavailable"


class Forbidden(LeadMLError):
    code = "forbidden"


class RateLimited(LeadMLError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after
