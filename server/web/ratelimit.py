"""A small in-process sliding-window rate limiter for guessable endpoints."""

from __future__ import annotations

import time
import weakref
from collections import deque


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds for each key."""

    _instances: weakref.WeakSet[RateLimiter] = weakref.WeakSet()

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        RateLimiter._instances.add(self)
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}

    def _prune(self, key: str, now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may act again; 0 when it may act now."""
        now = time.monotonic()
        events = self._prune(key, now)
        if len(events) < self.limit:
            return 0
        return max(1, int(events[0] + self.window - now) + 1)

    def hit(self, key: str) -> None:
        now = time.monotonic()
        if len(self._events) >= self.max_keys and key not in self._events:
            self._events.clear()  # bounded memory under a flood of distinct keys
        self._prune(key, now).append(now)

    def reset(self) -> None:
        self._events.clear()

    @classmethod
    def reset_all(cls) -> None:
        """Forget every limiter's events (tests that hammer many endpoints)."""
        for limiter in list(cls._instances):
            limiter.reset()


def client_key(scope_client: tuple[str, int] | None) -> str:
    return scope_client[0] if scope_client else "unknown"
