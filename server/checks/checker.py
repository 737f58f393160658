"""Who is asking: the logged-in member behind a session cookie, found on the hot connections.

The marshal's scanner sends its session cookie with every check, and every page asks
who its user is. The same rules as every page decide who that is
(``server.auth.sessions.lookup``: an open session, not past its idle or absolute limit,
of a member who may log in) and what they may see (``server.auth.access.permissions_from``),
read in one indexed query on the hot connection (``server.db.hot``) instead of ORM
round trips. When the session's last-seen time is due to move on (every few minutes),
the caller takes the ordinary ORM path, which writes it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, join, select

from server.auth.access import permissions_from
from server.auth.models import LoginSession
from server.auth.sessions import TOUCH_EVERY, token_hash
from server.checks.lookup import as_date, as_utc
from server.db.hot import HotConnections, compiled
from server.groups.models import Group, GroupMembership
from server.members.models import Member
from server.members.status import LOGIN_STATUSES

# The session, its member and every group membership of the member in one statement (one
# round trip, asking for no date, so that the scanner's check can send it beside the
# member's facts): a row per membership, or one row with NULL membership columns for a
# member in no group. Which memberships are current is decided here, as
# ``server.auth.access.current_membership`` decides it in SQL.
SESSION_QUERY = (
    select(
        LoginSession.ended_at,
        LoginSession.expires_at,
        LoginSession.idle_expires_at,
        LoginSession.last_seen_at,
        Member.id,
        Member.sca_name,
        Member.first_name,
        Member.middle_name,
        Member.last_name,
        Member.email,
        Member.status,
        Member.is_superuser,
        Member.deleted_at,
        Member.membership_expires_on,
        GroupMembership.group_id,
        GroupMembership.since,
        GroupMembership.until,
        Group.since,
        Group.until,
        GroupMembership.is_chair,
        Group.permissions,
        Group.chair_permissions,
    )
    .select_from(LoginSession)
    .join(Member, Member.id == LoginSession.member_id)
    .outerjoin(
        join(GroupMembership, Group, Group.id == GroupMembership.group_id),
        GroupMembership.member_id == Member.id,
    )
    .where(LoginSession.token_hash == bindparam("token_hash"))
)
SESSION_SQL = compiled(SESSION_QUERY)


@dataclass(frozen=True)
class Checker:
    member_id: int
    name: str
    permissions: frozenset[str]
    staff: bool  # a current group membership, or superuser (``server.auth.access.is_staff``)
    touch_due: bool  # the session's last-seen time should be written (ORM path)


@dataclass(frozen=True)
class _Holder:
    is_superuser: bool
    is_deleted: bool
    status: str
    membership_expires_on: dt.date | None


def _json_list(value: Any) -> list[str]:
    found = json.loads(value) if isinstance(value, str) else value
    return list(found or [])


async def session_rows(hot: HotConnections, sid: Any) -> list[Any]:
    """The rows of ``SESSION_QUERY`` for the session id ``sid`` (none for no such session)."""
    if not isinstance(sid, str) or not sid or len(sid) > 100:
        return []
    if hot.sqlite is not None:
        return hot.sqlite.execute(SESSION_SQL[0], (token_hash(sid),)).fetchall()
    return list(await hot.pool.fetch(SESSION_SQL[1], token_hash(sid)))


def checker_from(rows: list[Any], now: dt.datetime, today: dt.date) -> Checker | None:
    """The checker those rows describe, or None (no open session of a member who may log in)."""
    if not rows:
        return None
    ended, expires, idle_expires, last_seen, member_id, *_ = rows[0]
    sca, first, middle, last, email, status, superuser, deleted_at, expiry = rows[0][5:14]
    if ended is not None or _past(expires, now) or _past(idle_expires, now):
        return None
    if deleted_at is not None or status not in LOGIN_STATUSES:
        return None
    holder = _Holder(bool(superuser), False, status, as_date(expiry))
    held = [
        (bool(chair), _json_list(granted), _json_list(more))
        for group_id, since, until, group_since, group_until, chair, granted, more in (
            row[14:] for row in rows
        )
        if group_id is not None
        and _current(since, until, today)
        and _current(group_since, group_until, today)
    ]
    legal = " ".join(part for part in (first, middle, last) if part)
    seen = as_utc(last_seen)
    return Checker(
        member_id,
        sca or legal or email,
        permissions_from(holder, held, today),
        staff=holder.is_superuser or bool(held),
        touch_due=seen is None or now - seen >= TOUCH_EVERY,
    )


async def find_checker(
    hot: HotConnections, sid: Any, now: dt.datetime, today: dt.date
) -> Checker | None:
    """The checker whose session id ``sid`` is, or None (no such open session)."""
    return checker_from(await session_rows(hot, sid), now, today)


def _current(since: Any, until: Any, today: dt.date) -> bool:
    start, end = as_date(since), as_date(until)
    return start is not None and start <= today and (end is None or end >= today)


def _past(moment: Any, now: dt.datetime) -> bool:
    found = as_utc(moment)
    return found is None or found <= now
