"""Rate limits of the JSON API: a token bucket per client (an API key's name, or an IP address).

A client may spend its whole allowance at once and gets it back evenly over the window, so a burst of a page
load is fine and a steady flood is cut to the allowed rate. Buckets live in memory: one app process, one count.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`limit` requests per `window_s` seconds for each client key."""

    def __init__(self, limit: int, window_s: float, max_clients: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        if limit < 1 or window_s <= 0:
            raise ValueError(f"a rate limit needs limit >= 1 and window_s > 0, got {limit} per {window_s} s")
        self.limit = limit
        self.rate = limit / window_s
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Spend one request of `client`: 0 when allowed, else the seconds until one is allowed again."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= self.max_clients:
                    self._drop_full(now)
                bucket = self._buckets[client] = _Bucket(float(self.limit), now)
            bucket.tokens = min(float(self.limit), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate

    def _drop_full(self, now: float) -> None:
        # A refilled bucket holds nothing worth remembering: forgetting it changes no answer.
        full = [key for key, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.limit]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]


def retry_after_header(seconds: float) -> str:
    """Retry-After takes whole seconds; rounding up never invites a retry that is refused again."""
    return str(max(1, math.ceil(seconds)))
