"""Where member codes went: who holds an agreement's seats, and where a member came from.

A seat is held by a member created with the code (``Seat``); a pending applicant who gave
the code will take one when the office creates the member. Both are listed with their
dates on the agreement's page; a member's page names the applicant record and the code
(and agreement) they came from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.applicants.models import Applicant
from server.db.lowered import lowered
from server.member_codes.models import Agreement, Seat
from server.members.models import Member


@dataclass(frozen=True)
class SeatHolder:
    member_id: int
    name: str
    assigned_at: dt.datetime
    assigned_by: str
    deleted: bool


@dataclass(frozen=True)
class PendingApplicant:
    applicant_id: int
    name: str
    submitted_at: dt.datetime
    code_override: bool


@dataclass(frozen=True)
class Origin:
    """The applicant record a member was created from, and the code it carried."""

    applicant_id: int
    submitted_at: dt.datetime
    created_at: dt.datetime | None
    member_code: str
    code_override: bool
    agreement: Agreement | None


def _name(sca_name: str | None, first: str | None, last: str | None, email: str | None) -> str:
    legal = " ".join(p for p in (first, last) if p)
    return sca_name or legal or email or "(no name)"


async def seat_holders(db: AsyncSession, agreement: Agreement) -> list[SeatHolder]:
    """Members created with the agreement's code, in the order their seats were assigned."""
    by = aliased(Member)
    rows = await db.execute(
        select(
            Seat.member_id,
            Seat.assigned_at,
            Member.sca_name,
            Member.first_name,
            Member.last_name,
            Member.email,
            Member.deleted_at,
            by.sca_name,
            by.email,
        )
        .join(Member, Member.id == Seat.member_id)
        .outerjoin(by, by.id == Seat.assigned_by_id)
        .where(Seat.agreement_id == agreement.id)
        .order_by(Seat.assigned_at, Seat.id)
    )
    return [
        SeatHolder(
            member_id,
            _name(sca, first, last, email),
            assigned_at,
            by_name or by_email or "",
            deleted_at is not None,
        )
        for member_id, assigned_at, sca, first, last, email, deleted_at, by_name, by_email in rows
    ]


async def pending_applicants(db: AsyncSession, agreement: Agreement) -> list[PendingApplicant]:
    """Applicants awaiting review who gave this code (codes compare ignoring case and spaces)."""
    rows = await db.execute(
        select(
            Applicant.id,
            Applicant.sca_name,
            Applicant.first_name,
            Applicant.last_name,
            Applicant.email,
            Applicant.submitted_at,
            Applicant.code_override,
        )
        .where(
            lowered(func.trim(Applicant.member_code)) == agreement.code_key,
            Applicant.member_id.is_(None),
            Applicant.declined_at.is_(None),
        )
        .order_by(Applicant.submitted_at, Applicant.id)
    )
    return [
        PendingApplicant(applicant_id, _name(sca, first, last, email), submitted_at, override)
        for applicant_id, sca, first, last, email, submitted_at, override in rows
    ]


async def origin_of(db: AsyncSession, member_id: int) -> Origin | None:
    """Where the member came from (None for members entered directly in the register)."""
    row = (
        await db.execute(
            select(Applicant, Agreement)
            .outerjoin(Seat, Seat.member_id == Applicant.member_id)
            .outerjoin(Agreement, Agreement.id == Seat.agreement_id)
            .where(Applicant.member_id == member_id)
        )
    ).first()
    if row is None:
        return None
    applicant, agreement = row
    return Origin(
        applicant.id,
        applicant.submitted_at,
        applicant.member_created_at,
        applicant.member_code,
        applicant.code_override,
        agreement,
    )
