"""Keeping ``Member.is_staff`` equal to "a current group membership, or superuser".

Admin pages compute staff live (``server.auth.access.is_staff``); the stored flag is
for lists, emails and other systems. The nightly job syncs everyone, in chunks; membership
changes sync the member concerned at once. Whoever gains or loses staff is emailed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import ColumnElement, and_, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import record
from server.auth.access import current_memberships_query
from server.cards.invalidation import CARD_UNCHANGED
from server.groups.models import GroupMembership
from server.mail.outbox import queue_email
from server.members.models import Member
from server.nightly.chunks import in_chunks
from server.nightly.registry import nightly_job
from server.settings.store import load_settings


def _should_be_staff(today: dt.date) -> ColumnElement[bool]:
    current = current_memberships_query(today).where(GroupMembership.member_id == Member.id)
    return and_(Member.deleted_at.is_(None), or_(Member.is_superuser, current.exists()))


async def sync_staff(
    db: AsyncSession, today: dt.date, member_ids: Collection[int] | None = None
) -> tuple[int, int]:
    """Grant and revoke the flag set-based; email and audit each change. (granted, revoked)."""
    should = _should_be_staff(today)
    scope = [] if member_ids is None else [Member.id.in_(list(member_ids))]
    gaining = list(
        (
            await db.execute(select(Member).where(*scope, Member.is_staff.is_(False), should))
        ).scalars()
    )
    losing = list(
        (
            await db.execute(
                select(Member).where(
                    *scope,
                    Member.is_staff.is_(True),
                    Member.is_superuser.is_(False),
                    not_(should),
                )
            )
        ).scalars()
    )
    if not gaining and not losing:
        return 0, 0
    site = await load_settings(db)
    for members, flag, template in (
        (gaining, True, "staff_granted"),
        (losing, False, "staff_revoked"),
    ):
        if not members:
            continue
        await db.execute(
            update(Member)
            .where(Member.id.in_([m.id for m in members]))
            .values(is_staff=flag)
            .execution_options(**CARD_UNCHANGED)
        )
        for member in members:
            record(
                db,
                actor_id=None,
                action="member.staff_granted" if flag else "member.staff_revoked",
                entity=member,
                member_id=member.id,
                before={"is_staff": not flag},
                after={"is_staff": flag},
            )
            if member.deleted_at is None:
                queue_email(
                    db,
                    to=member.email,
                    template=template,
                    context={"member": member, "site": site},
                    member_id=member.id,
                )
    return len(gaining), len(losing)


@nightly_job("staff_sync", order=50)
async def staff_sync_job(db: AsyncSession, today: dt.date) -> str:
    """Everyone whose flag is wrong, a chunk of members per transaction."""
    should = _should_be_staff(today)
    wrong = select(Member.id).where(
        or_(
            and_(Member.is_staff.is_(False), should),
            and_(Member.is_staff.is_(True), Member.is_superuser.is_(False), not_(should)),
        )
    )
    ids = list((await db.execute(wrong)).scalars())
    outcomes: dict[int, tuple[int, int]] = {}  # by first id of the chunk (a retry overwrites)

    async def sync_chunk(db: AsyncSession, chunk: list[int]) -> int:
        outcomes[chunk[0]] = await sync_staff(db, today, chunk)
        return len(chunk)

    await in_chunks(db, ids, sync_chunk, what="staff sync")
    granted = sum(g for g, _ in outcomes.values())
    revoked = sum(r for _, r in outcomes.values())
    return f"staff granted to {granted}, revoked from {revoked}"
