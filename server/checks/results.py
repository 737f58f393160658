"""The fixed vocabulary of check results, with the words shown for each (one place)."""

from __future__ import annotations

from dataclasses import dataclass

SYMBOLS = {"ok": "✓", "warn": "!", "bad": "✕"}


@dataclass(frozen=True)
class Result:
    key: str
    word: str  # the large word on the check page and the scanner
    label: str  # a short sentence for lists and reports
    tone: str  # "ok", "warn", "bad": colour only; the word carries the meaning

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.tone]


RESULTS: tuple[Result, ...] = (
    Result("ok", "OK", "Current, verified membership", "ok"),
    Result("membership_expired", "EXPIRED", "Membership has expired", "warn"),
    Result("unverified", "UNVERIFIED", "Membership not verified", "warn"),
    Result("minor_needs_parent", "MINOR: NO PARENT", "Under 18 without a linked parent", "warn"),
    Result("deactivated", "DEACTIVATED", "Member is deactivated", "bad"),
    Result("code_expired", "CODE EXPIRED", "The check code has expired", "warn"),
    Result("revoked", "REVOKED", "The check code was revoked", "bad"),
    Result("unknown", "UNKNOWN", "Not a valid code, or no such member", "bad"),
)
BY_KEY: dict[str, Result] = {r.key: r for r in RESULTS}
KEYS: tuple[str, ...] = tuple(r.key for r in RESULTS)


def result(key: str) -> Result:
    return BY_KEY[key]
