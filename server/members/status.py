"""The member status table of brief §2, as data, and the one function that applies it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

ADULT_AGE = 18


@dataclass(frozen=True)
class Status:
    key: str
    label: str
    can_log_in: bool
    # Facts that produce this status; None means "any".
    deactivated: bool
    adult: bool | None
    verified: bool | None
    parent_linked: bool | None


STATUSES: tuple[Status, ...] = (
    Status("deactivated", "Deactivated", False, True, None, None, None),
    Status("active", "Active", True, False, True, False, None),
    Status("verified", "Verified", True, False, True, True, None),
    Status("minor_unverified", "Unverified minor", False, False, False, False, False),
    Status("minor_membership_verified", "< 18 member verified", False, False, False, True, False),
    Status("minor_parent_verified", "< 18 parent verified", True, False, False, False, True),
    Status("minor_verified", "Verified < 18", True, False, False, True, True),
)
BY_KEY: dict[str, Status] = {s.key: s for s in STATUSES}
VERIFIED_STATUSES = frozenset(
    s.key for s in STATUSES if s.verified and not s.deactivated
)  # the statuses whose membership has been verified
LOGIN_STATUSES = frozenset(s.key for s in STATUSES if s.can_log_in)


def _matches(value: bool | None, fact: bool) -> bool:
    return value is None or value == fact


def compute_status(*, deactivated: bool, adult: bool, verified: bool, parent_linked: bool) -> str:
    """Return the status key for the four facts (the only place statuses are decided)."""
    for status in STATUSES:
        if (
            status.deactivated == deactivated
            and _matches(status.adult, adult)
            and _matches(status.verified, verified)
            and _matches(status.parent_linked, parent_linked)
        ):
            return status.key
    raise AssertionError("status table is not total")  # pragma: no cover


def age_on(birth_month: int | None, birth_year: int | None, today: dt.date) -> int | None:
    """Whole years from the 1st of the birth month to ``today`` (None when unknown)."""
    if birth_month is None or birth_year is None:
        return None
    years = today.year - birth_year
    if today.month < birth_month:
        years -= 1
    return years


def is_adult(birth_month: int | None, birth_year: int | None, today: dt.date) -> bool:
    """Members without a recorded birth date are treated as adults."""
    age = age_on(birth_month, birth_year, today)
    return age is None or age >= ADULT_AGE


def adult_cutoff(today: dt.date) -> tuple[int, int]:
    """(year, month): members born in or before this month are adults today (set-based SQL)."""
    return today.year - ADULT_AGE, today.month


def label(key: str) -> str:
    return BY_KEY[key].label if key in BY_KEY else key


class HasFacts(Protocol):
    deactivated_at: dt.datetime | None
    verified_at: dt.datetime | None
    parent_id: int | None
    birth_month: int | None
    birth_year: int | None
    status: str


def refresh_status(member: HasFacts, today: dt.date) -> str:
    """Recompute ``member.status`` from its facts (every action ends with this)."""
    member.status = compute_status(
        deactivated=member.deactivated_at is not None,
        adult=is_adult(member.birth_month, member.birth_year, today),
        verified=member.verified_at is not None,
        parent_linked=member.parent_id is not None,
    )
    return member.status
