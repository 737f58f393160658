"""The check's one database read: a member's facts by public id, lean.

One indexed query (members by ``public_id``, its branch, the latest code revocation,
the check code its mobile card carries now, and the organisation's time zone), on the hot connections
(``server.db.hot``): on SQLite in the event loop's thread, in microseconds; on
PostgreSQL one prepared statement through the ``asyncpg`` pool.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, case, literal_column, null, select, union_all
from sqlalchemy.dialects import sqlite

from server import clock
from server.cards.invalidation import CURRENT_EPOCH
from server.cards.models import CardPayload
from server.checks.revocations import LATEST_REVOCATION
from server.db.hot import HotConnections, compiled
from server.members.models import Branch, Member
from server.settings.models import SettingValue
from server.wallet.models import WalletPass, WalletPassCode
from server.wallet.void_state import PASS_IS_VOID


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
    time_zone: str = clock.DEFAULT_ZONE  # the organisation's (app setting ``time_zone``)
    # The marshal's view stored with the card, while fresh (``FactsLookup.with_view``);
    # None: not asked for, or stale.
    check_view: str | None = None

    def today(self, now: dt.datetime) -> dt.date:
        """The organisation's date at ``now``: when a membership counts as expired."""
        return now.astimezone(clock.zone(self.time_zone)).date()


_time_zone = (
    select(SettingValue.value)
    .where(SettingValue.key == literal_column("'time_zone'"))
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
        LATEST_REVOCATION,
        CardPayload.check_code,
        _time_zone,
    )
    .outerjoin(Branch, Branch.id == Member.branch_id)
    .outerjoin(CardPayload, CardPayload.member_id == Member.id)
    .where(Member.public_id == bindparam("public_id"))
)
SQLITE_SQL, POSTGRESQL_SQL = compiled(FACTS_QUERY)
# For a logged-in checker, the same read also brings the marshal's view of the member
# stored with their card, while it is fresh (as ``server.cards.reader``): one round trip
# where the scanner's check took two.
_fresh_view = case(
    (
        and_(
            CardPayload.valid_until > bindparam("now"),
            CardPayload.epoch >= CURRENT_EPOCH,
        ),
        CardPayload.check_view,
    ),
    else_=null(),
)
WITH_VIEW_QUERY = FACTS_QUERY.add_columns(_fresh_view)
WITH_VIEW_SQLITE_SQL = str(WITH_VIEW_QUERY.compile(dialect=sqlite.dialect(paramstyle="named")))
WITH_VIEW_POSTGRESQL_SQL = compiled(WITH_VIEW_QUERY)[1]

# Whether a code is a wallet pass's that was voided (and no live pass shows it): the
# code a pass shows, or one it showed before (``WalletPassCode``), which a phone offline
# since still shows. A pass counts as void once its card link goes (``PASS_IS_VOID``).
# Parameters: member id, code, member id, code.
VOIDED_QUERY = union_all(
    select(PASS_IS_VOID).where(
        WalletPass.member_id == bindparam("member_id"),
        WalletPass.check_code == bindparam("code"),
    ),
    select(PASS_IS_VOID)
    .join(WalletPassCode, WalletPassCode.pass_id == WalletPass.id)
    .where(
        WalletPassCode.member_id == bindparam("earlier_member_id"),
        WalletPassCode.code == bindparam("earlier_code"),
    ),
)
VOIDED_SQLITE_SQL, VOIDED_POSTGRESQL_SQL = compiled(VOIDED_QUERY)


def as_utc(value: Any) -> dt.datetime | None:
    """A timestamp as a raw driver returns it (SQLite text, an asyncpg datetime), in UTC."""
    if value is None:
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def as_date(value: Any) -> dt.date | None:
    """A date as a raw driver returns it (SQLite text, an asyncpg date)."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


@functools.lru_cache(maxsize=64)
def _zone_name(stored: Any) -> str:
    """The stored setting (JSON text from a raw driver) as a zone name."""
    value = json.loads(stored) if isinstance(stored, str) else stored
    return str(value or clock.DEFAULT_ZONE)


def _facts(row: Any) -> MemberFacts:
    member_id, public_id, sca_name, branch, status, expires, deleted_at, revoked, known = row[:9]
    zone = row[9]
    return MemberFacts(
        member_id=member_id,
        public_id=public_id,
        sca_name=sca_name,
        branch_name=branch or "",
        status=status,
        membership_expires_on=as_date(expires),
        deleted=deleted_at is not None,
        revoked_before=as_utc(revoked),
        known_code=known,
        time_zone=_zone_name(zone) if zone is not None else clock.DEFAULT_ZONE,
        check_view=row[10] if len(row) > 10 else None,
    )


class FactsLookup:
    """``await lookup(public_id)`` → ``MemberFacts`` or None; one per app."""

    def __init__(self, hot: HotConnections) -> None:
        self.hot = hot

    async def __call__(self, public_id: str) -> MemberFacts | None:
        if self.hot.sqlite is not None:
            row = self.hot.sqlite.execute(SQLITE_SQL, (public_id,)).fetchone()
        else:
            row = await self.hot.pool.fetchrow(POSTGRESQL_SQL, public_id)
        return None if row is None else _facts(row)

    async def with_view(self, public_id: str) -> MemberFacts | None:
        """As a call, and with the marshal's view of the member if it is fresh."""
        now = int(time.time())
        if self.hot.sqlite is not None:
            params = {"public_id": public_id, "now": now}
            row = self.hot.sqlite.execute(WITH_VIEW_SQLITE_SQL, params).fetchone()
        else:
            row = await self.hot.pool.fetchrow(WITH_VIEW_POSTGRESQL_SQL, now, public_id)
        return None if row is None else _facts(row)

    async def voided(self, member_id: int, code: str) -> bool:
        """Whether ``code`` is what a voided wallet pass of the member shows (and no live
        pass does): one indexed read, asked only for long-lived codes."""
        if self.hot.sqlite is not None:
            params = (member_id, code, member_id, code)
            rows = self.hot.sqlite.execute(VOIDED_SQLITE_SQL, params).fetchall()
        else:
            rows = await self.hot.pool.fetch(
                VOIDED_POSTGRESQL_SQL, member_id, code, member_id, code
            )
        found = [bool(row[0]) for row in rows]
        return bool(found) and all(found)
