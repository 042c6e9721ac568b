"""One LLM call with failover: the official `openai` client against any OpenAI-compatible endpoint.

`LlmService.call` never raises for an endpoint problem. It returns a `CallResult` that says whether a
validated answer came back and, if not, why (the fallback reason in llmMetadata):

- `not_configured`   no base URL and no API key;
- `circuit_open`     the tenant's circuit breaker is open after repeated failures;
- `rate_limited`     the endpoint's Retry-After for this tenant has not passed yet, or a 429 whose
                     Retry-After is longer than `llm_max_retry_after_seconds` (a shorter one is waited
                     out once);
- `rate_limited_locally`  the tenant spent its `llm_calls_per_minute`;
- `unavailable`      no connection;
- `timeout`          no answer within `llm_timeout_seconds`;
- `server_error`     5xx after `llm_retries` retries with exponential backoff;
- `request_rejected` another 4xx (bad key, unknown model ...);
- `malformed_output` not JSON, or not the schema (missing, invalid or out-of-range fields);
- `ungrounded_output`, `out_of_range`  refused by the caller's checks (see predict/llm/schemas.py).

A JSON-schema response format is tried first; an endpoint that refuses it (a 400 naming
response_format) is remembered per model and asked for a JSON object, then for plain JSON.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai

from leadml.config import Settings
from leadml.predict.llm import prompts
from leadml.predict.llm.guard import GuardLimits, Guards
from leadml.predict.llm.prices import estimated_cost, price_table
from leadml.predict.llm.privacy import PrivacyPolicy
from leadml.predict.llm.schemas import BadAnswer, Kind, parse_answer

NO_KEY_NEEDED = "not-needed"  # local servers (Ollama, vLLM) ignore the key but the client wants one


@dataclass(frozen=True)
class LlmOptions:
    base_url: str | None = None
    api_key: str | None = None
    model: str = "gpt-4o-mini"
    timeout_seconds: float = 10.0
    retries: int = 1
    backoff_seconds: float = 0.5
    max_retry_after_seconds: float = 5.0
    temperature: float = 0.2
    max_tokens: int = 800
    max_probability_shift: float = 0.3
    bulk_concurrency: int = 4
    limits: GuardLimits = GuardLimits()
    prices: dict[str, tuple[float, float]] = field(default_factory=price_table)
    privacy: PrivacyPolicy = PrivacyPolicy()

    @classmethod
    def from_settings(cls, settings: Settings) -> LlmOptions:
        return cls(
            base_url=settings.llm_base_url, api_key=settings.llm_api_key, model=settings.llm_model,
            timeout_seconds=settings.llm_timeout_seconds, retries=settings.llm_retries,
            backoff_seconds=settings.llm_retry_backoff_seconds,
            max_retry_after_seconds=settings.llm_max_retry_after_seconds, temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens, max_probability_shift=settings.llm_max_probability_shift,
            bulk_concurrency=settings.llm_bulk_concurrency,
            limits=GuardLimits(settings.llm_calls_per_minute, settings.llm_breaker_failures,
                               settings.llm_breaker_cooldown_seconds),
            prices=price_table(settings.llm_prices),
            privacy=PrivacyPolicy(frozenset(settings.llm_send_lead_fields), frozenset(settings.llm_send_attributes)),
        )

    @property
    def configured(self) -> bool:
        return bool(self.base_url or self.api_key)

    @property
    def endpoint(self) -> str:
        return (self.base_url or "https://api.openai.com/v1").rstrip("/") + "/chat/completions"


@dataclass
class CallResult:
    answer: Any = None
    reason: str | None = None  # None = a validated answer
    detail: str | None = None
    model: str | None = None  # as the endpoint returned it
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    cost: float = 0.0
    priced: bool = False
    attempts: int = 0  # HTTP requests made
    response_format: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def retry_after_seconds(response: Any) -> float | None:
    """Retry-After (seconds or an HTTP date), or retry-after-ms, from a response; None if absent."""
    headers = getattr(response, "headers", None) or {}
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(parsed.timestamp() - time.time(), 0.0)


def _mentions_format(exc: openai.APIStatusError) -> bool:
    text = f"{exc.message} {getattr(exc, 'body', '')}".lower()
    return any(word in text for word in ("response_format", "json_schema", "json_object", "structured output"))


class LlmService:
    """Holds the client, the per-tenant guards and what each model's endpoint supports."""

    def __init__(self, options: LlmOptions, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self.guards = Guards(options.limits, clock)
        self._sleep = sleep
        self._clock = clock
        self._formats: dict[str, int] = {}  # model -> index into prompts.FORMAT_ORDER
        self._lock = threading.Lock()
        self._client: openai.OpenAI | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LlmService:
        return cls(LlmOptions.from_settings(settings))

    @property
    def client(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                self._client = openai.OpenAI(
                    base_url=self.options.base_url, api_key=self.options.api_key or NO_KEY_NEEDED,
                    timeout=self.options.timeout_seconds, max_retries=0,  # retries are ours, and bounded
                )
            return self._client

    def response_format(self) -> prompts.ResponseFormat:
        return prompts.FORMAT_ORDER[self._formats.get(self.options.model, 0)]

    def request(self, kind: Kind, facts: dict[str, Any], lead_text: dict[str, Any] | None = None,
                fmt: prompts.ResponseFormat | None = None) -> dict[str, Any]:
        """The body that would be sent now (what `leadml llm preview` prints)."""
        return prompts.chat_request(kind, model=self.options.model, facts=facts, lead_text=lead_text,
                                    fmt=fmt or self.response_format(), temperature=self.options.temperature,
                                    max_tokens=self.options.max_tokens)

    def call(self, *, tenant: object, kind: Kind, facts: dict[str, Any], lead_text: dict[str, Any] | None = None,
             check: Callable[[Any], Any] | None = None) -> CallResult:
        """Ask once (with the bounded retries above); `check(answer)` may raise BadAnswer or return a
        transformed answer."""
        out = CallResult()
        if not self.options.configured:
            out.reason, out.detail = "not_configured", "set LEADML_LLM_BASE_URL and/or LEADML_LLM_API_KEY"
            return out
        guard = self.guards[tenant]
        refused = guard.admit()
        if refused is not None:
            out.reason, out.detail = refused, "no call made"
            return out
        started = self._clock()
        server_retries = 0
        waited_for_429 = False
        while True:
            fmt = self.response_format()
            body = self.request(kind, facts, lead_text, fmt)
            out.attempts += 1
            out.response_format = fmt
            try:
                response = self.client.chat.completions.create(**body)
            except openai.APITimeoutError:
                return self._failed(out, guard, started, "timeout",
                                    f"no answer within {self.options.timeout_seconds:g} s")
            except openai.APIConnectionError as exc:
                return self._failed(out, guard, started, "unavailable", str(exc.__cause__ or exc)[:200])
            except openai.RateLimitError as exc:
                wait = retry_after_seconds(exc.response)
                if wait is not None and wait <= self.options.max_retry_after_seconds and not waited_for_429:
                    waited_for_429 = True
                    self._sleep(wait)
                    continue
                return self._failed(out, guard, started, "rate_limited",
                                    f"429 from the endpoint (Retry-After {wait if wait is not None else 'absent'})",
                                    retry_after=wait if wait is not None else self.options.limits.cooldown_seconds)
            except openai.APIStatusError as exc:
                if exc.status_code >= 500:
                    if server_retries < self.options.retries:
                        self._sleep(self.options.backoff_seconds * (2 ** server_retries))
                        server_retries += 1
                        continue
                    return self._failed(out, guard, started, "server_error", f"HTTP {exc.status_code}")
                if exc.status_code in (400, 422) and fmt != "prompt" and _mentions_format(exc):
                    with self._lock:  # this endpoint does not take that format: remember, ask the next way
                        self._formats[self.options.model] = prompts.FORMAT_ORDER.index(fmt) + 1
                    continue
                return self._failed(out, guard, started, "request_rejected",
                                    f"HTTP {exc.status_code}: {exc.message[:200]}")
            except (openai.APIResponseValidationError, ValueError) as exc:
                return self._failed(out, guard, started, "malformed_output", str(exc)[:200])
            return self._answered(out, guard, started, kind, response, check)

    def _finish(self, out: CallResult, started: float) -> None:
        out.latency_ms = int(round((self._clock() - started) * 1000))
        out.cost, out.priced = estimated_cost(out.model or self.options.model, out.prompt_tokens,
                                              out.completion_tokens, self.options.prices)

    def _failed(self, out: CallResult, guard, started: float, reason: str, detail: str, *,
                retry_after: float | None = None) -> CallResult:
        out.reason, out.detail = reason, detail
        guard.failure(retry_after=retry_after)
        self._finish(out, started)
        return out

    def _answered(self, out: CallResult, guard, started: float, kind: Kind, response: Any,
                  check: Callable[[Any], Any] | None) -> CallResult:
        usage = getattr(response, "usage", None)
        out.prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        out.completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        out.model = getattr(response, "model", None) or None
        try:
            choices = getattr(response, "choices", None) or []
            if not choices:
                raise BadAnswer("malformed_output", "no choices in the answer")
            answer = parse_answer(kind, choices[0].message.content)
            out.answer = check(answer) if check is not None else answer
        except BadAnswer as exc:
            out.answer = None
            return self._failed(out, guard, started, exc.reason, exc.detail)
        guard.success()
        self._finish(out, started)
        return out
