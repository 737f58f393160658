"""Reading the group and membership forms into checked values."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth import permissions as catalogue
from server.groups.service import GroupValues, MembershipValues
from server.members.models import Member
from server.web.forms import FormReader, parse_id


def read_group(form: FormReader) -> GroupValues | None:
    keys = [p.key for p in catalogue.catalogue()]
    name = form.text("name", "Name", required=True, max_length=200)
    description = form.text("description", "Description", max_length=2000)
    since = form.date("since", "Start date", required=True)
    until = form.date("until", "End date")
    perms = form.multi_choice("permissions", "Permissions", keys)
    chair = form.multi_choice("chair_permissions", "Chair permissions", keys)
    if not form.ok or since is None:
        return None
    return GroupValues(name, description, since, until, perms, chair)


def read_membership(form: FormReader, today: dt.date) -> MembershipValues | None:
    since = form.date("since", "Start date") or today
    until = form.date("until", "End date")
    role = form.text("role", "Role", max_length=200)
    is_chair = form.boolean("is_chair")
    if not form.ok:
        return None
    return MembershipValues(since, until, role, is_chair)


async def find_member(db: AsyncSession, text: str) -> Member | None:
    """A member named by email, membership number or number in the register (#123)."""
    text = text.strip()
    if not text:
        return None
    if "@" in text:
        query = select(Member).where(Member.email_key == text.lower())
    elif (member_id := parse_id(text.removeprefix("#"))) is not None and text.startswith("#"):
        query = select(Member).where(Member.id == member_id)
    else:
        query = select(Member).where(Member.membership_number == text)
    rows = list((await db.execute(query.where(Member.deleted_at.is_(None)).limit(2))).scalars())
    return rows[0] if len(rows) == 1 else None
