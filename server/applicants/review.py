"""What the Membership Office sees when reviewing applicants: filters, duplicates, blockers."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.applicants.models import Applicant
from server.db.lowered import same_ignoring_case
from server.member_codes.models import Agreement
from server.member_codes.validation import (
    active_on_clause,
    find_agreement,
    grace_days,
    is_active_on,
    seats_remaining,
)
from server.members.models import Member

FILTERS: dict[str, str] = {
    "pending": "Pending",
    "created": "Member created",
    "declined": "Declined",
    "override": "Code override used",
    "has_code": "Has a member code",
    "agreement_no_code": "Branch has an active agreement but no code given",
}


def _digits(column: Any) -> Any:
    for char in " -()+./":
        column = func.replace(column, char, "")
    return column


def phone_digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


async def filter_clauses(
    db: AsyncSession, active: list[str], today: dt.date
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if "pending" in active:
        clauses.append(Applicant.member_id.is_(None))
        clauses.append(Applicant.declined_at.is_(None))
    if "created" in active:
        clauses.append(Applicant.member_id.is_not(None))
    if "declined" in active:
        clauses.append(Applicant.declined_at.is_not(None))
    if "override" in active:
        clauses.append(Applicant.code_override.is_(True))
    if "has_code" in active:
        clauses.append(Applicant.member_code != "")
    if "agreement_no_code" in active:
        branches = select(Agreement.branch_id).where(
            Agreement.branch_id.is_not(None), active_on_clause(today, await grace_days(db))
        )
        clauses.append(Applicant.member_code == "")
        clauses.append(Applicant.branch_id.in_(branches))
    return clauses


async def applicant_query(db: AsyncSession, active: list[str], today: dt.date) -> Select[Any]:
    return (
        select(Applicant)
        .where(*await filter_clauses(db, active, today))
        .order_by(Applicant.submitted_at.desc(), Applicant.id.desc())
    )


@dataclass(frozen=True)
class Duplicate:
    kind: str  # "member" or "applicant"
    id: int
    name: str
    reasons: tuple[str, ...]
    declined: str = ""  # an applicant declined before: when, and why

    @property
    def href(self) -> str:
        return f"/members/{self.id}" if self.kind == "member" else f"/applicants/{self.id}"


def _match_clauses(model: Any, applicant: Applicant) -> dict[str, ColumnElement[bool]]:
    """Both sides are lowered by the database, every letter on both databases
    (``server.db.lowered``: SQLite's own ``lower`` folds only ASCII, so "ÉVA@example.org"
    was not the same email as "éva@example.org" there, while it was on PostgreSQL)."""
    email = applicant.email.strip()
    first, last = applicant.first_name.strip(), applicant.last_name.strip()
    sca = applicant.sca_name.strip()
    digits = phone_digits(applicant.phone)
    return {
        "same email": same_ignoring_case(model.email, email) if email else false(),
        "same SCA name": same_ignoring_case(model.sca_name, sca) if sca else false(),
        "same legal name": same_ignoring_case(model.first_name, first)
        & same_ignoring_case(model.last_name, last)
        if first and last
        else false(),
        "same phone": _digits(model.phone) == digits if len(digits) >= 6 else false(),
    }


async def possible_duplicates(db: AsyncSession, applicant: Applicant) -> list[Duplicate]:
    """Members and other applicants with the same email, SCA name, legal name or phone."""
    found: list[Duplicate] = []
    models: tuple[tuple[str, Any], ...] = (("member", Member), ("applicant", Applicant))
    for kind, model in models:
        where = [or_(*_match_clauses(model, applicant).values())]
        if model is Member:
            where.append(Member.deleted_at.is_(None))
        else:
            where.append(Applicant.id != applicant.id)
        rows = (await db.execute(select(model).where(*where).limit(20))).scalars().all()
        for row in rows:
            reasons = tuple(r for r in REASONS if _same(r, applicant, row))
            name = row.sca_name or row.legal_name or row.email or f"#{row.id}"
            declined = (
                f"declined {row.declined_at:%Y-%m-%d}: {row.decline_reason}"
                if kind == "applicant" and row.declined_at is not None
                else ""
            )
            found.append(Duplicate(kind, row.id, name, reasons, declined))
    return found


REASONS = ("same email", "same SCA name", "same legal name", "same phone")


def _same(reason: str, a: Any, b: Any) -> bool:
    if reason == "same email":
        return bool(a.email) and a.email.strip().lower() == b.email.strip().lower()
    if reason == "same SCA name":
        return bool(a.sca_name.strip()) and a.sca_name.strip().lower() == b.sca_name.strip().lower()
    if reason == "same legal name":
        return bool(a.first_name and a.last_name) and (
            (a.first_name.strip().lower(), a.last_name.strip().lower())
            == (b.first_name.strip().lower(), b.last_name.strip().lower())
        )
    digits = phone_digits(a.phone)
    return len(digits) >= 6 and digits == phone_digits(b.phone)


async def blocking_reasons(db: AsyncSession, applicant: Applicant) -> list[str]:
    """Why "Create member" cannot run yet (empty: it can)."""
    if applicant.member_id is not None:
        return ["A member was already created from this applicant."]
    if applicant.declined_at is not None:
        return ["This applicant was declined."]
    reasons = []
    if not applicant.email:
        reasons.append("The applicant has no email address.")
    else:
        taken = await db.scalar(
            select(Member.id).where(Member.email_key == applicant.email.strip().lower())
        )
        if taken is not None:
            reasons.append(
                "A member already has this email address; update that member instead "
                "(two members cannot share an address)."
            )
    if not (applicant.sca_name or applicant.first_name and applicant.last_name):
        reasons.append("The applicant has no name.")
    if applicant.birth_month is None or applicant.birth_year is None:
        reasons.append("The birth month and year are missing.")
    if applicant.terms_accepted_at is None:
        reasons.append("The applicant has not accepted the terms.")
    return reasons


@dataclass(frozen=True)
class AgreementInfo:
    code: str
    agreement: Agreement | None
    remaining: int
    active_today: bool

    @property
    def warning(self) -> bool:
        return self.agreement is None or self.remaining <= 0 or not self.active_today


async def agreement_info(
    db: AsyncSession, applicant: Applicant, today: dt.date
) -> AgreementInfo | None:
    if not applicant.member_code:
        return None
    agreement = await find_agreement(db, applicant.member_code)
    if agreement is None:
        return AgreementInfo(applicant.member_code, None, 0, False)
    return AgreementInfo(
        applicant.member_code,
        agreement,
        await seats_remaining(db, agreement),
        is_active_on(agreement, today, await grace_days(db)),
    )
