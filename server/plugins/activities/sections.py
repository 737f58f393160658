"""The card sections: Authorizations (current, grouped) and May authorize.

``activity_sections`` serves one member; ``activity_sections_many`` serves many (card
rebuild batches, batch printing) in one statement — two when someone may authorize.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    bindparam,
    cast,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.access import HELD, HELD_COLUMNS, permissions_by_member, permissions_of
from server.members.models import Member
from server.plugins.activities.models import APPROVED, Activity, ActivityGroup, Authorization
from server.plugins.contract import Row, Section, SectionContext

AUTHORIZATIONS_ORDER = 20
MAY_AUTHORIZE_ORDER = 30
Held = tuple[str, str, "dt.date | None"]  # group, activity, expiry


_AUTHORIZATION_COLUMNS = (
    Authorization.member_id,
    ActivityGroup.name.label("group_name"),
    Activity.name.label("activity_name"),
    Authorization.expires_on,
)


def _current(today: Any) -> Select[int, str, str, dt.date | None]:
    """(member id, group, activity, expiry) of current approved authorizations, sorted."""
    return (
        select(*_AUTHORIZATION_COLUMNS)
        .join(Activity, Activity.id == Authorization.activity_id)
        .join(ActivityGroup, ActivityGroup.id == Activity.group_id)
        .where(
            Authorization.status == APPROVED,
            or_(Authorization.expires_on.is_(None), Authorization.expires_on >= today),
        )
        .order_by(ActivityGroup.name, Activity.name)
    )


async def _authorizable(db: AsyncSession) -> list[tuple[str, str, str]]:
    """(permission, group, activity) of every active activity, sorted."""
    rows = await db.execute(
        select(Activity.authorize_permission, ActivityGroup.name, Activity.name)
        .join(ActivityGroup, ActivityGroup.id == Activity.group_id)
        .where(Activity.is_active.is_(True))
        .order_by(ActivityGroup.name, Activity.name)
    )
    return [(p, g, a) for p, g, a in rows]


def expiry_note(expires_on: dt.date | None) -> str:
    return f"expires {expires_on.isoformat()}" if expires_on else "no expiry"


def _sections(held: Sequence[Held], may: Sequence[tuple[str, str]]) -> list[Section]:
    return [
        Section(
            key="authorizations",
            title="Authorizations",
            order=AUTHORIZATIONS_ORDER,
            rows=tuple(
                Row(
                    label=a,
                    value="Authorized",
                    note=expiry_note(e),
                    group=g,
                    tone="ok",
                    expires_on=e,
                )
                for g, a, e in held
            ),
            empty_text="No current authorizations.",
        ),
        Section(
            key="may_authorize",
            title="May authorize",
            order=MAY_AUTHORIZE_ORDER,
            rows=tuple(Row(label=a, group=g) for g, a in may),
        ),
    ]


async def activity_sections(
    db: AsyncSession, member: Member, context: SectionContext, today: dt.date
) -> Sequence[Section]:
    rows = await db.execute(_current(today).where(Authorization.member_id == member.id))
    held = [(g, a, e) for _, g, a, e in rows]
    perms = await permissions_of(db, member, today)
    may = [(g, a) for p, g, a in await _authorizable(db) if p in perms] if perms else []
    return _sections(held, may)


def _nulls(columns: Sequence[Any]) -> list[ColumnElement[Any]]:
    """NULLs typed as ``columns`` (a union's first branch gives its columns' types)."""
    return [cast(null(), column.type) for column in columns]


# A batch's one statement, built once (every card rebuild batch reads it): the members'
# current authorizations (kind 0, sorted as ``_current`` sorts them) and their current
# group memberships (kind 1: whom they may authorize; ``permissions_by_member`` ignores
# those of members whose groups do not count). Columns: kind, member id, group,
# activity, expiry, chair?, the group's permissions, its chair permissions.
_BATCH = union_all(
    _current(bindparam("today", type_=Date()))
    .where(Authorization.member_id.in_(bindparam("ids", expanding=True)))
    .order_by(None)
    .with_only_columns(
        literal(0).label("kind"), *_AUTHORIZATION_COLUMNS, *_nulls(HELD_COLUMNS[1:])
    ),
    HELD.with_only_columns(
        literal(1), HELD_COLUMNS[0], *_nulls(_AUTHORIZATION_COLUMNS[1:]), *HELD_COLUMNS[1:]
    ),
).order_by(literal_column("kind"), literal_column("group_name"), literal_column("activity_name"))


async def activity_sections_many(
    db: AsyncSession, members: Sequence[Member], context: SectionContext, today: dt.date
) -> Mapping[int, Sequence[Section]]:
    ids = [m.id for m in members]
    held: dict[int, list[Held]] = {i: [] for i in ids}
    memberships: list[tuple[int, bool, Any, Any]] = []
    rows = await db.execute(_BATCH, {"today": today, "ids": ids})
    for kind, member_id, g, a, e, is_chair, granted, chair_granted in rows:
        if kind == 0:
            held[member_id].append((g, a, e))
        else:
            memberships.append((member_id, is_chair, granted, chair_granted))
    perms = permissions_by_member(members, memberships, today)
    activities = await _authorizable(db) if any(perms.values()) else []
    return {i: _sections(held[i], [(g, a) for p, g, a in activities if p in perms[i]]) for i in ids}
