"""The check's one database read: a member's facts by public id, lean.

One indexed query (members by ``public_id``, its branch, the latest code revocation,
and the check code its mobile card carries now).
On SQLite it runs on a plain read-only ``sqlite3`` connection in the event loop's
thread: the lookup takes microseconds, and skipping the driver's thread hop and the
ORM is what lets the check page keep up with a bare route. Elsewhere it is one
SQLAlchemy Core round trip.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
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
# Pages reached through a memory map are read without a system call each; checks pick
# members at random, so most pages of the members table are reached sooner or later.
SQLITE_MMAP_BYTES = 1 << 30


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


def sqlite_file(database_url: str) -> str | None:
    """The database file of a SQLite URL (None for other databases and in-memory ones)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


class FactsLookup:
    """``await lookup(public_id)`` → ``MemberFacts`` or None; one per app."""

    def __init__(self, engine: AsyncEngine, database_url: str) -> None:
        self.engine = engine
        self._sqlite: sqlite3.Connection | None = None
        self._sqlite_path = sqlite_file(database_url)

    def _sqlite_connection(self) -> sqlite3.Connection:
        if self._sqlite is None:
            assert self._sqlite_path
            conn = sqlite3.connect(
                f"file:{self._sqlite_path}?mode=ro",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
            )
            conn.execute("PRAGMA busy_timeout=2000")
            conn.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            self._sqlite = conn
        return self._sqlite

    async def __call__(self, public_id: str) -> MemberFacts | None:
        if self._sqlite_path:
            row = self._sqlite_connection().execute(SQLITE_SQL, (public_id,)).fetchone()
        else:
            async with self.engine.connect() as conn:
                row = (await conn.execute(FACTS_QUERY, {"public_id": public_id})).first()
        return None if row is None else _facts(row)

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
