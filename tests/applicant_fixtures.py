"""Helpers for the applicant, member-code and registration tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.applicants.models import Applicant
from server.database import utcnow
from server.mail.models import OutboxMessage
from server.member_codes.models import Agreement, Seat
from server.member_codes.validation import code_key
from server.settings.store import set_setting
from tests.factories import make_member

TODAY = dt.date.today()


@pytest.fixture(autouse=True)
def _reset_register_limit() -> None:
    from server.applicants.routes import register_limiter

    register_limiter.reset()


async def make_agreement(db: AsyncSession, code: str = "ACME-2026", **kw: Any) -> Agreement:
    kw.setdefault("organisation", "Acme Guild")
    kw.setdefault("starts_on", TODAY - dt.timedelta(days=100))
    kw.setdefault("ends_on", TODAY + dt.timedelta(days=100))
    kw.setdefault("seats", 10)
    agreement = Agreement(code=code, code_key=code_key(code), **kw)
    db.add(agreement)
    await db.flush()
    return agreement


async def fill_seats(db: AsyncSession, agreement: Agreement, count: int) -> None:
    for _ in range(count):
        member = await make_member(db)
        db.add(Seat(agreement_id=agreement.id, member_id=member.id))
    await db.flush()


async def make_applicant(db: AsyncSession, **kw: Any) -> Applicant:
    kw.setdefault("sca_name", "Aelfric of Testing")
    kw.setdefault("first_name", "Alfred")
    kw.setdefault("last_name", "Tester")
    kw.setdefault("email", "alfred@example.org")
    kw.setdefault("birth_month", 5)
    kw.setdefault("birth_year", TODAY.year - 30)
    kw.setdefault("terms_accepted_at", utcnow())
    applicant = Applicant(**kw)
    db.add(applicant)
    await db.flush()
    return applicant


async def set_site(db: AsyncSession, key: str, value: Any) -> None:
    await set_setting(db, key, value, actor_id=None)
    await db.commit()


async def outbox(db: AsyncSession, kind: str) -> list[OutboxMessage]:
    rows = list(
        (await db.execute(select(OutboxMessage).where(OutboxMessage.kind == kind))).scalars().all()
    )
    await db.commit()
    return rows
