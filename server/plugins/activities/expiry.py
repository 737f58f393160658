"""The nightly job: approved authorizations past their expiry become expired.

Set-based, a chunk of authorizations per transaction (``server.nightly.chunks``): four
statements per chunk whatever its size (audit rows and the members' emails first, then
their mobile cards marked stale, then the status).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, String, and_, cast, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditEntry
from server.cards.invalidation import invalidate
from server.db.rowcount import rowcount
from server.mail.models import OutboxMessage
from server.members.models import Member
from server.nightly.chunks import in_chunks
from server.plugins.activities.models import APPROVED, EXPIRED, Activity, Authorization


def _due(today: dt.date) -> ColumnElement[bool]:
    return and_(Authorization.status == APPROVED, Authorization.expires_on < today)


async def expire_authorizations(db: AsyncSession, today: dt.date) -> str:
    ids = list((await db.execute(select(Authorization.id).where(_due(today)))).scalars())

    async def expire_chunk(db: AsyncSession, chunk: list[int]) -> int:
        return await _expire(db, and_(Authorization.id.in_(chunk), _due(today)), today)

    count = await in_chunks(db, ids, expire_chunk, what="expire authorizations")
    return f"{count} authorizations expired"


async def _expire(db: AsyncSession, due: ColumnElement[bool], today: dt.date) -> int:
    now = dt.datetime.now(dt.UTC)
    audit = select(
        literal(now, AuditEntry.at.type),
        literal("authorization.expired"),
        literal("authorizations"),
        Authorization.id,
        Authorization.member_id,
        literal({"status": APPROVED}, AuditEntry.before.type),
        literal({"status": EXPIRED}, AuditEntry.after.type),
        literal(f"expired on the nightly run of {today.isoformat()}"),
    ).where(due)
    await db.execute(
        insert(AuditEntry).from_select(
            ["at", "action", "entity_type", "entity_id", "member_id", "before", "after", "note"],
            audit,
        )
    )
    name = func.coalesce(func.nullif(Member.sca_name, ""), Member.email)
    mail = (
        select(
            literal(now, OutboxMessage.created_at.type),
            literal("authorization_expired"),
            Member.email,
            literal("Your authorization for ") + Activity.name + literal(" has expired"),
            literal("Hello ")
            + name
            + literal(",\n\nYour authorization for ")
            + Activity.name
            + literal(" expired on ")
            + cast(Authorization.expires_on, String)
            + literal(". Ask your marshallate about a renewal.\n"),
            literal(""),
            Member.id,
            literal("queued"),
            literal(0),
            literal(now, OutboxMessage.next_attempt_at.type),
            literal(""),
        )
        .select_from(Authorization)
        .join(Member, Member.id == Authorization.member_id)
        .join(Activity, Activity.id == Authorization.activity_id)
        .where(due, Member.deleted_at.is_(None))
    )
    await db.execute(
        insert(OutboxMessage).from_select(
            [
                "created_at",
                "kind",
                "to_addr",
                "subject",
                "body_text",
                "body_html",
                "member_id",
                "status",
                "attempts",
                "next_attempt_at",
                "last_error",
            ],
            mail,
        )
    )
    await invalidate(db, select(Authorization.member_id).where(due))
    result = await db.execute(
        update(Authorization)
        .where(due)
        .values(status=EXPIRED)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)
