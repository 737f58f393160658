"""Age-up (brief §2): a minor who turns 18 loses the parent link; the status follows the table.

The one rule, on every path: a member who is neither deactivated nor deleted, is an adult
today and still carries a parent link or a minor status is *due*; ageing up ends the link,
sets the adult status for the member's verification and writes one ``member.age_up`` row.
The nightly job applies it to the whole register in a few set-based statements per
chunk of members (``due_clause``); saves, status actions and member creation apply it to one loaded member
(``is_due``, ``age_up_member``, ``age_up_new_member``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import record
from server.audit.models import AuditEntry
from server.database import utcnow
from server.db.transactions import lock_for_write
from server.members.models import Member
from server.members.status import STATUSES, adult_cutoff, compute_status, is_adult
from server.nightly.chunks import in_chunks
from server.nightly.registry import nightly_job

ACTION = "member.age_up"
AUDIT_TABLE = cast(Table, AuditEntry.__table__)
MINOR_STATUSES = tuple(s.key for s in STATUSES if s.adult is False)
# The status after ageing up, by "membership verified": adult, no parent, not deactivated.
AGED_UP_STATUS = {
    verified: compute_status(deactivated=False, adult=True, verified=verified, parent_linked=False)
    for verified in (True, False)
}


def adult_clause(today: dt.date) -> ColumnElement[bool]:
    """SQL for ``is_adult`` (an unknown birth date counts as adult, as there)."""
    year, month = adult_cutoff(today)
    return or_(
        Member.birth_year.is_(None),
        Member.birth_month.is_(None),
        Member.birth_year < year,
        and_(Member.birth_year == year, Member.birth_month <= month),
    )


def due_clause(today: dt.date) -> ColumnElement[bool]:
    """Members who are adults today but still carry a parent link or a minor status."""
    return and_(
        Member.deactivated_at.is_(None),
        Member.deleted_at.is_(None),
        adult_clause(today),
        or_(Member.parent_id.is_not(None), Member.status.in_(MINOR_STATUSES)),
    )


def is_due(member: Member, today: dt.date) -> bool:
    """``due_clause`` for one loaded member."""
    return (
        member.deactivated_at is None
        and member.deleted_at is None
        and is_adult(member.birth_month, member.birth_year, today)
        and (member.parent_id is not None or member.status in MINOR_STATUSES)
    )


def _note(parent_id: int | None) -> str:
    return "Turned 18: parent link ended." if parent_id is not None else "Turned 18."


def _audit_row(
    member_id: int, status: str, parent_id: int | None, verified: bool, actor_id: int | None
) -> dict[str, Any]:
    return {
        "actor_id": actor_id,
        "action": ACTION,
        "entity_type": Member.__tablename__,
        "entity_id": member_id,
        "member_id": member_id,
        "before": {"status": status, "parent_id": parent_id},
        "after": {"status": AGED_UP_STATUS[verified], "parent_id": None},
        "note": _note(parent_id),
    }


async def age_up_register(db: AsyncSession, today: dt.date) -> int:
    """Age up every due member, a chunk of members per transaction (``in_chunks``)."""
    ids = list((await db.execute(select(Member.id).where(due_clause(today)))).scalars())

    async def age_up_chunk(db: AsyncSession, chunk: list[int]) -> int:
        return await _age_up_chunk(db, chunk, today)

    return await in_chunks(db, ids, age_up_chunk, what="age-up")


async def _age_up_chunk(db: AsyncSession, chunk: list[int], today: dt.date) -> int:
    """Those of ``chunk`` still due: one SELECT, one bulk audit INSERT, one UPDATE per
    outcome (which marks their cards stale, ``server.cards.invalidation``)."""
    due = and_(Member.id.in_(chunk), due_clause(today))
    await lock_for_write(db)
    rows = (
        await db.execute(
            select(Member.id, Member.status, Member.parent_id, Member.verified_at.is_not(None))
            .where(due)
            .with_for_update()
        )
    ).all()
    if not rows:
        return 0
    now = utcnow()
    audit = [
        {"at": now, **_audit_row(member_id, status, parent_id, bool(verified), None)}
        for member_id, status, parent_id, verified in rows
    ]
    await db.execute(insert(AUDIT_TABLE), audit)  # Core insert: no ORM bookkeeping per row
    for verified, status in AGED_UP_STATUS.items():
        verified_clause = (
            Member.verified_at.is_not(None) if verified else Member.verified_at.is_(None)
        )
        await db.execute(
            update(Member)
            .where(due, verified_clause)
            .values(parent_id=None, status=status, version=Member.version + 1, modified_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(rows)


def age_up_member(
    db: AsyncSession, member: Member, today: dt.date, actor_id: int | None = None
) -> bool:
    """Age up one stored member if due, as the nightly job would; True when it did.

    Changes what the nightly UPDATE changes (``parent_id``, ``status``, ``modified_at``;
    the version on flush) and adds the same audit row, with ``actor_id`` as the actor.
    """
    if not is_due(member, today):
        return False
    verified = member.verified_at is not None
    row = _audit_row(member.id, member.status, member.parent_id, verified, actor_id)
    member.parent_id = None
    member.status = AGED_UP_STATUS[verified]
    member.modified_at = utcnow()
    record(db, **row)
    return True


def age_up_new_member(member: Member, today: dt.date) -> None:
    """The rule for a member about to be created: a due member starts without a parent link.

    No audit row: no link or minor status was ever stored, so nothing ends; the creation's
    own row shows the member as stored. The caller computes the status.
    """
    if is_due(member, today):
        member.parent_id = None


@nightly_job("age_up", order=10)
async def age_up_job(db: AsyncSession, today: dt.date) -> str:
    count = await age_up_register(db, today)
    return f"age-up: {count} member(s) turned 18"
