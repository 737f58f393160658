"""The check's one database read: a member's facts by public id, lean.

One indexed query (members by ``public_id``, its branch, the latest code revocation,
and the check code its mobile card carries now).
On SQLite it runs on the check's own ``sqlite3`` connection in the event loop's
thread (``server.checks.connection``): the lookup takes microseconds, and skipping
the driver's thread hop and the ORM is what lets the check page keep up with a bare
route. Elsewhere it is one SQLAlchemy Core round trip.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from server.cards.models import CardPayload
from server.checks.models import CodeRevocation
from server.members.models import Branch, Member


@dataclass(frozen=True)
class MemberFacts:
    member_id: int
    public_id: str
    sca_name: str
    branch_name: str
    status: str
    membership_expires_on: dt.date | None
    deleted: bool
    revoked_before: dt.datetime | None
    known_code: str | None = None  # the code in the member's current card payload


_latest_revocation = (
    select(func.max(CodeRevocation.revoked_before))
    .where(CodeRevocation.member_id == Member.id)
    .scalar_subquery()
)
FACTS_QUERY = (
    select(
        Member.id,
        Member.public_id,
        Member.sca_name,
        Branch.name,
        Member.status,
        Member.membership_expires_on,
        Member.deleted_at,
        _latest_revocation,
        CardPayload.check_code,
    )
    .outerjoin(Branch, Branch.id == Member.branch_id)
    .outerjoin(CardPayload, CardPayload.member_id == Member.id)
    .where(Member.public_id == bindparam("public_id"))
)
SQLITE_SQL = str(FACTS_QUERY.compile(dialect=sqlite_dialect.dialect(paramstyle="qmark")))


def _utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def _facts(row: Any) -> MemberFacts:
    member_id, public_id, sca_name, branch, status, expires, deleted_at, revoked, known = row
    return MemberFacts(
        member_id=member_id,
        public_id=public_id,
        sca_name=sca_name,
        branch_name=branch or "",
        status=status,
        membership_expires_on=_date(expires),
        deleted=deleted_at is not None,
        revoked_before=_utc(revoked),
        known_code=known,
    )


class FactsLookup:
    """``await lookup(public_id)`` → ``MemberFacts`` or None; one per app."""

    def __init__(self, engine: AsyncEngine, sqlite: sqlite3.Connection | None = None) -> None:
        self.engine = engine
        self.sqlite = sqlite  # the check's own connection (``server.checks.connection``)

    async def __call__(self, public_id: str) -> MemberFacts | None:
        if self.sqlite is not None:
            row = self.sqlite.execute(SQLITE_SQL, (public_id,)).fetchone()
        else:
            async with self.engine.connect() as conn:
                row = (await conn.execute(FACTS_QUERY, {"public_id": public_id})).first()
        return None if row is None else _facts(row)
