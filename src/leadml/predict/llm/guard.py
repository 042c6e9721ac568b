"""When not to call: a per-tenant rate limit, Retry-After, and a circuit breaker.

A bulk job that meets a failing endpoint stops calling it after `failure_threshold` consecutive
failures; after `cooldown_seconds` one trial call decides whether to close the circuit again.
An endpoint's 429 with Retry-After keeps the tenant's calls away until that time.
The clock is injectable so the tests need not sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class GuardLimits:
    calls_per_minute: float = 60.0
    failure_threshold: int = 5
    cooldown_seconds: float = 60.0


class TenantGuard:
    def __init__(self, limits: GuardLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = max(limits.calls_per_minute, 1.0)
        self._refilled = clock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False
        self._blocked_until = 0.0

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half_open" if self._clock() - self._opened_at >= self.limits.cooldown_seconds else "open"

    def admit(self) -> str | None:
        """None when a call may go ahead (and takes a token); else why not."""
        with self._lock:
            now = self._clock()
            if self._opened_at is not None:
                if now - self._opened_at < self.limits.cooldown_seconds or self._trial_in_flight:
                    return "circuit_open"
                self._trial_in_flight = True  # half-open: this call is the trial
            elif now < self._blocked_until:
                return "rate_limited"
            rate = self.limits.calls_per_minute / 60.0
            self._tokens = min(self.limits.calls_per_minute, self._tokens + (now - self._refilled) * rate)
            self._refilled = now
            if self._tokens < 1.0:
                self._trial_in_flight = False
                return "rate_limited_locally"
            self._tokens -= 1.0
            return None

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def failure(self, *, retry_after: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            if retry_after is not None:
                self._blocked_until = max(self._blocked_until, now + retry_after)
            self._failures += 1
            if self._trial_in_flight or self._failures >= self.limits.failure_threshold:
                self._opened_at = now
            self._trial_in_flight = False


class Guards:
    """One TenantGuard per key (tenant id), created on first use."""

    def __init__(self, limits: GuardLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._guards: dict[object, TenantGuard] = {}

    def __getitem__(self, key: object) -> TenantGuard:
        with self._lock:
            guard = self._guards.get(key)
            if guard is None:
                guard = self._guards[key] = TenantGuard(self.limits, self._clock)
            return guard
