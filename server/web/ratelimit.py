"""A small in-process sliding-window rate limiter for guessable endpoints.

Callers count failures (an unknown card token, a code that does not verify, a wrong
password), never successes, and answer a valid request whatever the count: one person
guessing behind a shared Wi-Fi address must not lock everyone else behind it out. Where
checking takes long enough for a burst to pile up (a login hashes its password), the
caller counts each attempt as it arrives and ``refund``s it once it succeeds.

The counts live in the worker process: with ``serve --workers N`` an address may fail up
to N times the limit before every worker refuses it. The limits guard against floods of
guesses, not against a patient guesser; per-account protection (the login lockout) is
kept in the database.
"""

from __future__ import annotations

import ipaddress
import time
import weakref
from collections import OrderedDict, deque

EVICT_SCAN = 64


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds for each key.

    At most ``max_keys`` keys are remembered, ordered by their last event. A new key
    beyond that drops one key: among the ``EVICT_SCAN`` least recently active, the first
    that is not held back (a held-back guesser is the one worth remembering), else the
    least recently active. A flood of distinct addresses forgets one key per new one,
    never everyone at once.
    """

    _instances: weakref.WeakSet[RateLimiter] = weakref.WeakSet()

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        RateLimiter._instances.add(self)
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def _prune(self, events: deque[float], now: float) -> deque[float]:
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may act again; 0 when it may act now."""
        events = self._events.get(key)
        if events is None:
            return 0
        now = time.monotonic()
        if len(self._prune(events, now)) < self.limit:
            return 0
        return max(1, int(events[0] + self.window - now) + 1)

    def hit(self, key: str) -> None:
        now = time.monotonic()
        events = self._events.get(key)
        if events is None:
            while len(self._events) >= self.max_keys:
                self._evict_one(now)
            events = self._events[key] = deque()
        else:
            self._events.move_to_end(key)
        self._prune(events, now).append(now)

    def refund(self, key: str) -> None:
        """Take back one event of ``key``: for an attempt counted (``hit``) before its
        outcome was known — so that attempts in flight at the same moment are all
        counted — that turned out not to be a failure."""
        events = self._events.get(key)
        if events:
            events.pop()

    def _evict_one(self, now: float) -> None:
        for scanned, (key, events) in enumerate(self._events.items()):
            if scanned >= EVICT_SCAN:
                break
            if len(self._prune(events, now)) < self.limit:
                del self._events[key]
                return
        self._events.popitem(last=False)

    def reset(self) -> None:
        self._events.clear()

    @classmethod
    def reset_all(cls) -> None:
        """Forget every limiter's events (tests that hammer many endpoints)."""
        for limiter in list(cls._instances):
            limiter.reset()


IPV6_PREFIX = 64  # the block one subscriber (a home, a phone, an event's Wi-Fi) is given


def client_key(scope_client: tuple[str, int] | None) -> str:
    """Whom a limit counts: an IPv4 address, or the /64 block of an IPv6 one.

    An IPv6 client is given a whole /64 (2^64 addresses, each of which it may use): counted
    per address, a guesser stepping through its block was never held back at all. An
    IPv4 address written as IPv6 (``::ffff:192.0.2.1``, as a server listening on ``::``
    sees it) is that IPv4 address.
    """
    if not scope_client:
        return "unknown"
    host = scope_client[0]
    if ":" not in host:
        return host
    try:
        address = ipaddress.IPv6Address(host)
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
