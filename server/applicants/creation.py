"""Create member (brief §3): one transaction turns an applicant into a member.

``create_member`` checks, then runs ``STEPS`` in order, all inside the caller's
transaction; any failure (or refusal) leaves the database unchanged once the caller
rolls back:

1. Lock the applicant row; refuse when it is gone, already created, declined, changed
   since the page was drawn (version), or still blocked (``review.blocking_reasons``).
2. Create the member from the applicant's fields (``members.service.create_member``:
   the status from the table, the email checked, an audit row).
3. Assign a seat of the agreement behind the applicant's member code (if one exists).
4. Link the applicant to the member and empty its personal fields.
5. Add the member to the weekly new-members recap.
6. Queue the confirmation email (adult text, or minor text explaining the parent step).
7. Audit the applicant's link; flush (a concurrent change or a taken email becomes a
   refusal). The member's own creation is audited by ``members.service.create_member``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from server.applicants.models import PERSONAL_FIELDS, Applicant, RecapEntry
from server.applicants.review import blocking_reasons
from server.audit.log import record
from server.database import utcnow
from server.db.transactions import lock_for_write
from server.mail.outbox import queue_email
from server.member_codes.models import Seat
from server.member_codes.validation import find_agreement
from server.members import service
from server.members.models import Member
from server.members.status import is_adult, label

STALE = "This applicant was changed by someone else — reload the page and try again."


class CreationRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Creation:
    db: AsyncSession
    applicant: Applicant
    actor: Member
    today: dt.date
    site: dict[str, Any]
    base_url: str
    member: Member | None = None
    seat: Seat | None = None

    @property
    def new_member(self) -> Member:
        assert self.member is not None, "step order: the member is created first"
        return self.member


async def _create_member(c: Creation) -> None:
    a = c.applicant
    c.member = await service.create_member(
        c.db,
        {name: getattr(a, name) for name in PERSONAL_FIELDS} | {"branch_id": a.branch_id},
        actor_id=c.actor.id,
        action="member.create_from_applicant",
        today=c.today,
        note=f"Created from applicant #{a.id}.",
    )


async def _assign_seat(c: Creation) -> None:
    agreement = await find_agreement(c.db, c.applicant.member_code)
    if agreement is None:
        return
    c.seat = Seat(agreement_id=agreement.id, member_id=c.new_member.id, assigned_by_id=c.actor.id)
    c.db.add(c.seat)
    await c.db.flush()


async def _link_applicant(c: Creation) -> None:
    a = c.applicant
    a.member_id = c.new_member.id
    a.member_created_at = utcnow()
    a.member_created_by_id = c.actor.id
    for name in PERSONAL_FIELDS:
        setattr(a, name, None if name in ("birth_month", "birth_year") else "")
    await c.db.flush()


async def _add_recap(c: Creation) -> None:
    c.db.add(RecapEntry(member_id=c.new_member.id, applicant_id=c.applicant.id))
    await c.db.flush()


async def _queue_confirmation(c: Creation) -> None:
    member = c.new_member
    minor = not is_adult(member.birth_month, member.birth_year, c.today)
    queue_email(
        c.db,
        to=member.email,
        template="member_created_minor" if minor else "member_created_adult",
        context={
            "member": member,
            "site": c.site,
            "status": label(member.status),
            "login_url": f"{c.base_url}/login",
            "password_url": f"{c.base_url}/password-reset",
        },
        member_id=member.id,
    )


async def _audit(c: Creation) -> None:
    record(
        c.db,
        actor_id=c.actor.id,
        action="applicant.member_created",
        entity=c.applicant,
        member_id=c.new_member.id,
        after={
            "member_id": c.new_member.id,
            "seat_agreement_id": c.seat.agreement_id if c.seat else None,
        },
    )
    await c.db.flush()


Step = Callable[[Creation], Awaitable[None]]
STEPS: tuple[tuple[str, Step], ...] = (
    ("create member", _create_member),
    ("assign seat", _assign_seat),
    ("link applicant", _link_applicant),
    ("add recap row", _add_recap),
    ("queue confirmation email", _queue_confirmation),
    ("audit", _audit),
)


async def create_member(
    db: AsyncSession,
    applicant_id: int,
    expected_version: int,
    actor: Member,
    today: dt.date,
    *,
    site: dict[str, Any],
    base_url: str,
) -> Member:
    """Run the steps above; raises ``CreationRefused`` with a message for the admin."""
    await lock_for_write(db)
    applicant = await db.get(Applicant, applicant_id, with_for_update=True, populate_existing=True)
    if applicant is None:
        raise CreationRefused("There is no such applicant.")
    if applicant.member_id is not None:
        raise CreationRefused("A member was already created from this applicant; nothing changed.")
    if applicant.declined_at is not None:
        raise CreationRefused(
            "This applicant was declined, so no member can be created from it; nothing changed."
        )
    if applicant.version != expected_version:
        raise CreationRefused(STALE)
    blockers = await blocking_reasons(db, applicant)
    if blockers:
        raise CreationRefused("The member cannot be created yet: " + " ".join(blockers))
    creation = Creation(db, applicant, actor, today, site, base_url)
    try:
        for _name, step in STEPS:
            await step(creation)
    except StaleDataError:
        raise CreationRefused(STALE) from None
    except service.EmailTaken as exc:
        raise CreationRefused(f"{exc} Reload the page.") from None
    except IntegrityError:
        raise CreationRefused(
            "Another member was created with this email address or from this applicant "
            "meanwhile; reload the page."
        ) from None
    return creation.new_member
