"""The member-code rules of brief §4, in one module.

A code is checked in numbered steps (``validate_code``):

1. Enforcement off (``ENFORCE_MEMBER_CODES``): every code is accepted.
2. Find the agreement whose code equals the given one, ignoring case and surrounding
   spaces; none → ``unknown``.
3. The agreement must be active on the date: start − grace ≤ date ≤ end + grace, both
   ends inclusive; otherwise → ``not_active``.
4. Seats remaining (seats − members created with the code) must be above zero;
   otherwise → ``no_seats``.
5. → ``ok``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.member_codes.models import Agreement, Seat
from server.settings.store import get_setting


class CodeResult(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    NOT_ACTIVE = "not_active"
    NO_SEATS = "no_seats"


MESSAGES: dict[CodeResult, str] = {
    CodeResult.OK: "This member code is valid.",
    CodeResult.UNKNOWN: "This member code is unknown. Check it with your organisation.",
    CodeResult.NOT_ACTIVE: "This member code is not active at the moment.",
    CodeResult.NO_SEATS: "This member code has no seats remaining.",
}


@dataclass(frozen=True)
class CodeCheck:
    result: CodeResult
    agreement: Agreement | None = None

    @property
    def ok(self) -> bool:
        return self.result is CodeResult.OK

    @property
    def message(self) -> str:
        return MESSAGES[self.result]


def code_key(code: str) -> str:
    return code.strip().lower()


def is_active_on(agreement: Agreement, day: dt.date, grace_days: int) -> bool:
    grace = dt.timedelta(days=grace_days)
    return agreement.starts_on - grace <= day <= agreement.ends_on + grace


def active_on_clause(day: dt.date, grace_days: int) -> ColumnElement[bool]:
    """``is_active_on`` as SQL, for filters over many agreements."""
    grace = dt.timedelta(days=grace_days)
    return and_(Agreement.starts_on <= day + grace, Agreement.ends_on >= day - grace)


async def find_agreement(db: AsyncSession, code: str) -> Agreement | None:
    key = code_key(code)
    if not key:
        return None
    return (
        await db.execute(select(Agreement).where(Agreement.code_key == key))
    ).scalar_one_or_none()


async def seats_used(db: AsyncSession, agreement_id: int) -> int:
    count = await db.scalar(
        select(func.count()).select_from(Seat).where(Seat.agreement_id == agreement_id)
    )
    return int(count or 0)


async def seats_remaining(db: AsyncSession, agreement: Agreement) -> int:
    """May be negative when more members were created than the agreement had seats."""
    return agreement.seats - await seats_used(db, agreement.id)


async def grace_days(db: AsyncSession) -> int:
    return int(await get_setting(db, "member_code_grace_days"))


async def validate_code(db: AsyncSession, code: str, day: dt.date) -> CodeCheck:
    """Check ``code`` for use on ``day`` (see the module docstring for the steps)."""
    if not await get_setting(db, "ENFORCE_MEMBER_CODES"):
        return CodeCheck(CodeResult.OK, await find_agreement(db, code))
    agreement = await find_agreement(db, code)
    if agreement is None:
        return CodeCheck(CodeResult.UNKNOWN)
    if not is_active_on(agreement, day, await grace_days(db)):
        return CodeCheck(CodeResult.NOT_ACTIVE, agreement)
    if await seats_remaining(db, agreement) <= 0:
        return CodeCheck(CodeResult.NO_SEATS, agreement)
    return CodeCheck(CodeResult.OK, agreement)
