"""Demo data for the Activities plugin (the plugin's ``demo`` hook; idempotent).

Five activity groups with activities (terms, age limits, approvals), a Marshallate whose
members may authorize, and fighters whose authorizations are in every status.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.passwords import hash_password
from server.database import utcnow
from server.demo.registry import DemoData
from server.groups.models import Group, GroupMembership
from server.groups.service import MembershipValues, add_membership
from server.members.models import Member
from server.members.service import create_member
from server.plugins.activities.models import (
    APPROVED,
    DENIED,
    EXPIRED,
    PENDING,
    REPLACED,
    RETRACTED,
    REVOKED,
    Activity,
    ActivityGroup,
    Authorization,
    AuthorizationVote,
)
from server.plugins.activities.permissions import AUTHORIZER_PERMISSIONS
from server.plugins.activities.terms import expiry_for

MARSHAL_PASSWORD = "tessera-demo-marshal"
# group: (permission, [(activity, term months, min age, max age, approvals new, renewal)])
CATALOGUE: dict[str, tuple[str, list[tuple[str, int | None, int | None, int | None, int, int]]]] = {
    "Armored Combat": (
        "authorize_armored_combat",
        [
            ("Weapon and Shield", 48, 16, None, 2, 1),
            ("Two-Handed Weapons", 48, 16, None, 2, 1),
            ("Spear", 48, 16, None, 2, 1),
        ],
    ),
    "Rapier": (
        "authorize_rapier",
        [("Single Rapier", 48, 14, None, 2, 1), ("Cut and Thrust", 48, 16, None, 2, 1)],
    ),
    "Youth Combat": (
        "authorize_youth_combat",
        [
            ("Youth Division 1 (ages 6–9)", 12, 6, 9, 1, 1),
            ("Youth Division 2 (ages 10–13)", 12, 10, 13, 1, 1),
            ("Youth Division 3 (ages 14–17)", 12, 14, 17, 1, 1),
        ],
    ),
    "Equestrian": (
        "authorize_equestrian",
        [("Mounted Games", 24, 12, None, 1, 1), ("Mounted Combat", 24, 18, None, 2, 1)],
    ),
    "Archery": (
        "authorize_archery",
        [("Target Archery", None, None, None, 1, 1), ("Combat Archery", 48, 16, None, 1, 1)],
    ),
}


async def _member(db: AsyncSession, today: dt.date, email: str, values: dict[str, Any]) -> Member:
    found = await db.scalar(select(Member).where(Member.email_key == email.lower()))
    if found is not None:
        return found
    return await create_member(
        db, {"email": email, **values}, actor_id=None, action="member.demo", today=today
    )


async def _activities(db: AsyncSession) -> dict[str, Activity]:
    found: dict[str, Activity] = {}
    for group_name, (permission, activities) in CATALOGUE.items():
        group = await db.scalar(select(ActivityGroup).where(ActivityGroup.name == group_name))
        if group is None:
            group = ActivityGroup(name=group_name, description="", is_active=True)
            db.add(group)
            await db.flush()
        for name, term, low, high, new, renewal in activities:
            activity = await db.scalar(
                select(Activity).where(Activity.group_id == group.id, Activity.name == name)
            )
            if activity is None:
                activity = Activity(
                    group_id=group.id,
                    name=name,
                    term_months=term,
                    minimum_age=low,
                    maximum_age=high,
                    approvals_new=new,
                    approvals_renewal=renewal,
                    authorize_permission=permission,
                    is_active=True,
                )
                db.add(activity)
                await db.flush()
            found[name] = activity
    return found


def _verified(today: dt.date, year: int) -> dict[str, Any]:
    return {
        "membership_number": f"D{year}{today.year}",
        "membership_expires_on": today + dt.timedelta(days=300),
        "verified_at": utcnow(),
        "birth_month": 5,
        "birth_year": year,
    }


async def _marshals(db: AsyncSession, demo: DemoData) -> list[Member]:
    today = demo.today
    password = hash_password(MARSHAL_PASSWORD)
    marshals = [
        await _member(
            db,
            today,
            f"marshal{i}@example.org",
            {
                "sca_name": name,
                "first_name": first,
                "last_name": "Marshal",
                "password_hash": password,
                **_verified(today, 1975 + i),
            },
        )
        for i, (name, first) in enumerate(
            [("Earl Marshal Gunnar", "Gunnar"), ("Dame Isolde", "Isolde"), ("Master Ruan", "Ruan")]
        )
    ]
    group = await db.scalar(select(Group).where(Group.name == "Marshallate"))
    if group is None:
        group = Group(
            name="Marshallate",
            description="Marshals of the kingdom; they authorize fighters.",
            since=today - dt.timedelta(days=3650),
            permissions=[p.key for p in AUTHORIZER_PERMISSIONS],
            chair_permissions=["manage_activities"],
        )
        db.add(group)
        await db.flush()
        for i, marshal in enumerate(marshals):
            db.add(
                GroupMembership(
                    group_id=group.id,
                    member_id=marshal.id,
                    since=today - dt.timedelta(days=365),
                    role="Earl Marshal" if i == 0 else "Deputy Marshal",
                    is_chair=i == 0,
                )
            )
        await db.flush()
    else:
        await _join_existing_marshallate(db, group, marshals, today)
    demo.groups["Marshallate"] = group
    return marshals


async def _join_existing_marshallate(
    db: AsyncSession, group: Group, marshals: list[Member], today: dt.date
) -> None:
    """The core demo made the Marshallate already: give it the authorizer permissions and
    make the activity marshals (non-chair) members, through the group rules."""
    wanted = [p.key for p in AUTHORIZER_PERMISSIONS if p.key not in group.permissions]
    if wanted:
        group.permissions = [*group.permissions, *wanted]
        await db.flush()
    for marshal in marshals:
        has = await db.scalar(
            select(GroupMembership.id).where(
                GroupMembership.group_id == group.id, GroupMembership.member_id == marshal.id
            )
        )
        if has is None:
            since = max(group.since, today - dt.timedelta(days=365))
            values = MembershipValues(since, None, "Marshal", False)
            await add_membership(db, group.id, marshal, values, actor_id=None, today=today)


async def demo_activities(db: AsyncSession, demo: DemoData) -> None:
    today = demo.today
    activities = await _activities(db)
    marshals = await _marshals(db, demo)
    fighter = await _member(
        db,
        today,
        "fighter@example.org",
        {
            "sca_name": "Brannoc of Stonebridge",
            "first_name": "Brian",
            "last_name": "Stone",
            "password_hash": hash_password(MARSHAL_PASSWORD),
            **_verified(today, 1990),
        },
    )
    youth = await _member(
        db,
        today,
        "youth@example.org",
        {
            "sca_name": "Young Wren",
            "first_name": "Wren",
            "last_name": "Stone",
            "parent_id": fighter.id,
            "birth_month": 1,
            "birth_year": today.year - 11,
        },
    )
    demo.members.update({"fighter": fighter, "youth": youth, "earl_marshal": marshals[0]})
    demo.notes.append(
        f"Marshals and a fighter with authorizations in every status: marshal0@example.org and "
        f"fighter@example.org, password {MARSHAL_PASSWORD}"
    )
    if await db.scalar(select(Authorization.id).where(Authorization.member_id == fighter.id)):
        return
    year_ago = today - dt.timedelta(days=365)

    def held(
        member: Member, name: str, status: str, start: dt.date | None, **kw: Any
    ) -> Authorization:
        activity = activities[name]
        row = Authorization(
            member_id=member.id,
            activity_id=activity.id,
            status=status,
            requested_by_id=member.id,
            start_on=start,
            expires_on=kw.pop(
                "expires_on", expiry_for(start, activity.term_months) if start else None
            ),
            revoked_reason=kw.pop("revoked_reason", ""),
            **kw,
        )
        db.add(row)
        return row

    old_spear = held(fighter, "Spear", REPLACED, today - dt.timedelta(days=1400))
    held(fighter, "Weapon and Shield", APPROVED, year_ago)
    held(fighter, "Target Archery", APPROVED, year_ago)
    held(youth, "Youth Division 2 (ages 10–13)", APPROVED, today - dt.timedelta(days=30))
    await db.flush()
    new_spear = held(fighter, "Spear", APPROVED, today - dt.timedelta(days=20), is_renewal=True)
    await db.flush()
    old_spear.replaced_by_id = new_spear.id
    pending = held(fighter, "Two-Handed Weapons", PENDING, None)
    denied = held(fighter, "Mounted Combat", DENIED, None, decided_at=utcnow())
    held(
        fighter,
        "Cut and Thrust",
        REVOKED,
        year_ago,
        revoked_by_id=marshals[0].id,
        revoked_at=utcnow(),
        revoked_reason="Repeated unsafe blows at the spring tourney",
    )
    held(fighter, "Single Rapier", EXPIRED, today - dt.timedelta(days=1500))
    held(fighter, "Combat Archery", RETRACTED, None, decided_at=utcnow())
    held(marshals[1], "Mounted Games", PENDING, None)
    await db.flush()
    db.add(
        AuthorizationVote(
            authorization_id=pending.id,
            authorizer_id=marshals[1].id,
            approve=True,
            note="Solid shield work",
        )
    )
    db.add(
        AuthorizationVote(
            authorization_id=denied.id,
            authorizer_id=marshals[2].id,
            approve=False,
            note="Needs more time in the saddle",
        )
    )
    await db.flush()
