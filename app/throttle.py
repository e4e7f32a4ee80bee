"""Rate counts across web processes in the queue's Redis (the embedded one under
`make run`): the sign-in throttle and the API's limit per key.

The sign-in throttle counts failed sign-ins only, per username and per client
address.

A correct sign-in is never counted, and it clears its username's count (the limit
is on consecutive failures of an account); the address's count stays, so guessing
many accounts from one address is slowed too. With Redis unreachable, sign-in
still works: the counts fall back to this process's memory, and Redis is tried
again after half a minute.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from limits import parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)
RETRY_PRIMARY_AFTER = 30.0


class Counter:
    """Moving-window counts in the queue's Redis, falling back to this process's
    memory while Redis is unreachable (tried again after half a minute)."""

    def __init__(self, limits: str, storage_uri: str | None):
        self.limits = parse_many(limits)
        self._fallback = MovingWindowRateLimiter(MemoryStorage())
        self._primary = None
        if storage_uri and not storage_uri.startswith("memory://"):
            self._primary = MovingWindowRateLimiter(_redis_storage(storage_uri))
        self._primary_failed_at = -math.inf

    def use(self, work):
        retry = time.monotonic() - self._primary_failed_at > RETRY_PRIMARY_AFTER
        if self._primary is not None and retry:
            try:
                return work(self._primary)
            except StorageError as exc:
                self._primary_failed_at = time.monotonic()
                log.warning("rate counts: Redis unreachable (%s); counting in memory", exc)
        return work(self._fallback)


class SignInThrottle(Counter):
    def wait_seconds(self, username: str, address: str | None) -> int:
        """0 if a sign-in may be tried now; else how many seconds until it may."""
        pairs = self._pairs(username, address)
        waits = self.use(lambda limiter: [_wait(limiter, item, key) for item, key in pairs])
        return max(waits, default=0)

    def record_failure(self, username: str, address: str | None) -> None:
        pairs = self._pairs(username, address)
        self.use(lambda limiter: [limiter.hit(item, key) for item, key in pairs])

    def record_success(self, username: str) -> None:
        pairs = self._pairs(username, None)
        self.use(lambda limiter: [limiter.clear(item, key) for item, key in pairs])

    def _pairs(self, username: str, address: str | None) -> list:
        return [(item, key) for item in self.limits for key in _keys(username, address)]


class ApiRateLimit(Counter):
    """Calls per API key (app/api): every call counts."""

    def wait_seconds(self, key_prefix: str) -> int:
        """Count a call; 0 if it may go on, else how many seconds until one may."""
        key = f"api-key-{key_prefix}"

        def hit(limiter):
            # Every limit tested first: a refused call uses up no window.
            waits = [_wait(limiter, item, key) for item in self.limits]
            if any(waits):
                return max(waits)
            for item in self.limits:
                limiter.hit(item, key)
            return 0

        return self.use(hit)


def _redis_storage(uri: str) -> Storage:
    # Short timeouts: a sign-in never waits long on an unreachable Redis.
    return storage_from_string(
        uri, wrap_exceptions=True, socket_timeout=1, socket_connect_timeout=1
    )


def _keys(username: str, address: str | None) -> list[str]:
    account = hashlib.sha256((username or "").strip().casefold().encode()).hexdigest()[:32]
    keys = [f"signin-account-{account}"]
    if address:
        keys.append(f"signin-address-{address}")
    return keys


def _wait(limiter: MovingWindowRateLimiter, item, key: str) -> int:
    if limiter.test(item, key):
        return 0
    reset_at = limiter.get_window_stats(item, key).reset_time
    return max(1, math.ceil(reset_at - time.time()))
