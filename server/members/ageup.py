"""Age-up (brief §2): a minor who turns 18 loses the parent link; the status follows the table.

Runs over the whole register in a few set-based statements (nightly) and for one member
whenever that member is saved (``age_up_member``). Deactivated and deleted members are
left untouched.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import record
from server.audit.models import AuditEntry
from server.database import utcnow
from server.members.models import Member
from server.members.status import (
    STATUSES,
    adult_cutoff,
    compute_status,
    is_adult,
    refresh_status,
)
from server.nightly.registry import nightly_job

ACTION = "member.age_up"
AUDIT_TABLE = cast(Table, AuditEntry.__table__)
MINOR_STATUSES = tuple(s.key for s in STATUSES if s.adult is False)


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


def _note(parent_id: int | None) -> str:
    return "Turned 18: parent link ended." if parent_id is not None else "Turned 18."


async def age_up_register(db: AsyncSession, today: dt.date) -> int:
    """Age up every due member: one SELECT, one bulk audit INSERT, one UPDATE per outcome."""
    due = due_clause(today)
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
    new_status = {
        verified: compute_status(
            deactivated=False, adult=True, verified=verified, parent_linked=False
        )
        for verified in (True, False)
    }
    audit: list[dict[str, Any]] = [
        {
            "at": now,
            "actor_id": None,
            "action": ACTION,
            "entity_type": Member.__tablename__,
            "entity_id": member_id,
            "member_id": member_id,
            "before": {"status": status, "parent_id": parent_id},
            "after": {"status": new_status[bool(verified)], "parent_id": None},
            "note": _note(parent_id),
        }
        for member_id, status, parent_id, verified in rows
    ]
    await db.execute(insert(AUDIT_TABLE), audit)  # Core insert: no ORM bookkeeping per row
    for verified, status in new_status.items():
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
    """Apply age-up to one loaded member (call on every save); True when it changed."""
    if member.deactivated_at is not None or member.deleted_at is not None:
        return False
    if not is_adult(member.birth_month, member.birth_year, today):
        return False
    old_parent = member.parent_id
    before = {"status": member.status, "parent_id": old_parent}
    member.parent_id = None
    refresh_status(member, today)
    after = {"status": member.status, "parent_id": None}
    if before == after:
        return False
    record(
        db,
        actor_id=actor_id,
        action=ACTION,
        entity=member,
        member_id=member.id,
        before=before,
        after=after,
        note=_note(old_parent),
    )
    return True


@nightly_job("age_up", order=10)
async def age_up_job(db: AsyncSession, today: dt.date) -> str:
    count = await age_up_register(db, today)
    return f"age-up: {count} member(s) turned 18"
