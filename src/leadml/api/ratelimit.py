"""In-process token buckets: per API key, and per client address for failed sign-ins.

One server process keeps its own buckets (documented in docs/security.md): behind several
processes or hosts each enforces its share, so set the limits per process. Buckets are refilled
lazily on use; idle ones are dropped when the table grows large.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from leadml import errors
from leadml.config import Settings

MAX_BUCKETS = 50_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """`rate` tokens per second up to `burst`; rate 0 disables the limit."""

    def __init__(self, rate: float, burst: float, *, clock=time.monotonic) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        return bucket

    def _prune(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= MAX_BUCKETS:  # all busy: forget the oldest half
            for key in sorted(self._buckets, key=lambda k: self._buckets[k].updated)[: MAX_BUCKETS // 2]:
                del self._buckets[key]

    def take(self, key: str) -> float:
        """Spend one token; 0 when allowed, else the seconds until one is available (nothing spent)."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            bucket = self._bucket(key, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def wait(self, key: str) -> float:
        """Seconds until `key` has a token again, without spending one (0 = it has one)."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return 0.0
            now = self.clock()
            tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate


def retry_after_seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


class RateLimits:
    """The app's limits: requests per key, failed authentications and sign-ins per client address."""

    def __init__(self, settings: Settings) -> None:
        self.per_key = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
        failures = settings.auth_failures_per_minute
        self.auth_failures = TokenBuckets(failures / 60.0, max(failures, 1.0))
        logins = settings.login_attempts_per_minute
        self.logins = TokenBuckets(logins / 60.0, max(logins, 1.0))

    @staticmethod
    def refuse(wait: float, what: str) -> errors.RateLimited:
        seconds = retry_after_seconds(wait)
        return errors.RateLimited(f"too many {what}; retry after {seconds} s", retry_after=seconds,
                                  details={"retryAfter": seconds})

    def check_key(self, api_key_id: int) -> None:
        wait = self.per_key.take(f"key:{api_key_id}")
        if wait:
            raise self.refuse(wait, "requests for this API key")

    def check_not_locked_out(self, client: str) -> None:
        wait = self.auth_failures.wait(client)
        if wait:
            raise self.refuse(wait, "failed authentication attempts from this address")

    def record_failure(self, client: str) -> None:
        self.auth_failures.take(client)

    def check_login(self, client: str) -> None:
        wait = self.logins.take(client)
        if wait:
            raise self.refuse(wait, "sign-in attempts from this address")
