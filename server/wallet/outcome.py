"""What became of one push or API call (``server.wallet.delivery`` records it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    kind: str  # sent | retried (for now) | failed (for good) | dropped (nothing to do)
    reason: str = ""
    device_gone: bool = False  # APNs: the push token is no longer valid

    @classmethod
    def of_status(cls, status: int, body: str, what: str) -> Outcome:
        """The usual reading of an HTTP answer: 2xx sent; 429 and 5xx retried; others failed."""
        if 200 <= status < 300:
            return cls("sent")
        reason = f"{what} answered {status}: {body[:300]}"
        if status == 429 or status >= 500:
            return cls("retried", reason)
        return cls("failed", reason)
