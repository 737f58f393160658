"""Core demo data (order 10): the branch tree, ~50 members in every status, groups, an admin.

Idempotent: everything is looked up by a natural key (branch name, email, group name)
before it is made, so ``demo`` can run any number of times.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.passwords import hash_password
from server.demo.registry import DemoData, demo_step
from server.groups.models import Group, GroupMembership
from server.groups.service import GroupValues, MembershipValues, add_membership, create_group
from server.members.models import Branch, Member
from server.members.service import create_member
from server.settings.store import get_setting, set_setting

ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "tessera-demo-admin"
MEMBER_PASSWORD = "tessera-demo-member"

# (name, kind, parent name)
BRANCHES: tuple[tuple[str, str, str | None], ...] = (
    ("Kingdom of the Example", "kingdom", None),
    ("Principality of the Northern Reach", "principality", "Kingdom of the Example"),
    ("Barony of Stonebridge", "barony", "Kingdom of the Example"),
    ("Barony of the Western Marches", "barony", "Principality of the Northern Reach"),
    ("Shire of Amberdale", "shire", "Barony of Stonebridge"),
    ("Shire of Harrow's End", "shire", "Barony of the Western Marches"),
    ("Shire of Glenmoor", "shire", "Principality of the Northern Reach"),
)
GIVEN = (
    "Aelfric",
    "Brigid",
    "Cedric",
    "Dagny",
    "Eirik",
    "Frida",
    "Gunnhild",
    "Halvard",
    "Isolde",
    "Jorund",
    "Katla",
    "Leofwine",
    "Maelis",
    "Njal",
    "Osric",
    "Petronella",
    "Quenby",
    "Ragnar",
    "Sigrid",
    "Tancred",
    "Ulla",
    "Viviane",
    "Wulfstan",
    "Yseult",
    "Zoe",
    "Aldith",
    "Bertram",
    "Cyneburg",
    "Drogo",
    "Eluned",
    "Fulk",
    "Gisela",
    "Hrothgar",
    "Ida",
    "Joscelin",
    "Kenric",
    "Lucia",
    "Matilda",
    "Nesta",
    "Oswin",
    "Perrin",
    "Rohese",
    "Sæunn",
    "Thorkell",
    "Urraca",
)
BYNAMES = (
    "of Amberdale",
    "the Bold",
    "Ironhand",
    "of the Marches",
    "the Fair",
    "Stonebridge",
    "the Younger",
    "of Glenmoor",
    "Swiftfoot",
    "the Wise",
)
# Status facts in turn: (kind, count). Adults first so minors can have parents.
PLAN: tuple[tuple[str, int], ...] = (
    ("verified", 16),
    ("verified_expired", 4),
    ("active", 10),
    ("deactivated", 4),
    ("minor_unverified", 4),
    ("minor_membership_verified", 3),
    ("minor_parent_verified", 4),
    ("minor_verified", 4),
)


async def _branches(db: AsyncSession, demo: DemoData) -> None:
    existing = {b.name: b for b in (await db.execute(select(Branch))).scalars()}
    for name, kind, parent in BRANCHES:
        branch = existing.get(name)
        if branch is None:
            branch = Branch(name=name, kind=kind, parent_id=existing[parent].id if parent else None)
            db.add(branch)
            await db.flush()
            existing[name] = branch
        demo.branches[name] = branch


@functools.cache
def _hash(password: str) -> str:
    return hash_password(password)  # slow on purpose: only when a member is made


async def _member(
    db: AsyncSession, demo: DemoData, key: str, values: dict[str, Any], password: str
) -> Member:
    """The member with this email, created on the first run only."""
    email = values["email"]
    member = (
        await db.execute(select(Member).where(Member.email_key == email.lower()))
    ).scalar_one_or_none()
    if member is None:
        values = {**values, "password_hash": _hash(password)}
        member = await create_member(
            db, values, actor_id=None, action="member.demo", today=demo.today
        )
    demo.members[key] = member
    return member


def _facts(kind: str, n: int, today: dt.date, adults: list[Member]) -> dict[str, Any]:
    """Birth date, verification, parent and deactivation for one planned member."""
    now = dt.datetime.now(dt.UTC)
    minor = kind.startswith("minor")
    facts: dict[str, Any] = {
        "birth_month": n % 12 + 1,
        "birth_year": today.year - (8 + n % 9 if minor else 20 + (n * 7) % 50),
    }
    verified = kind in (
        "verified",
        "verified_expired",
        "minor_membership_verified",
        "minor_verified",
    )
    if verified or kind == "deactivated":
        facts["membership_number"] = f"{400000 + n}"
        expires = today + dt.timedelta(days=30 + n * 11)
        if kind == "verified_expired":
            expires = today - dt.timedelta(days=10 + n)
        facts["membership_expires_on"] = expires
    if verified:
        facts["verified_at"] = now
    if kind in ("minor_parent_verified", "minor_verified") and adults:
        facts["parent_id"] = adults[n % len(adults)].id
    if kind == "deactivated":
        facts["deactivated_at"] = now
        facts["deactivation_reason"] = "Asked to leave the register (demo)."
    if n % 5 == 0 and not minor:
        facts["background_check_expires_on"] = today + dt.timedelta(days=200 + n)
    return facts


async def _members(db: AsyncSession, demo: DemoData) -> None:
    branches = list(demo.branches.values())
    adults: list[Member] = []
    n = 0
    for kind, count in PLAN:
        for _ in range(count):
            given = GIVEN[n % len(GIVEN)]
            byname = BYNAMES[n % len(BYNAMES)]
            values = {
                "email": f"{given.lower().replace('æ', 'ae')}{n}@example.org",
                "sca_name": f"{given} {byname}",
                "first_name": given,
                "last_name": f"Example{n}",
                "branch_id": branches[n % len(branches)].id,
                "city": "Exampleton",
                "phone": f"+1 555 01{n:02d}",
                **_facts(kind, n, demo.today, adults),
            }
            member = await _member(db, demo, f"{kind}:{n}", values, MEMBER_PASSWORD)
            if kind in ("verified", "active"):
                adults.append(member)
            n += 1


# (name, description, permissions, chair permissions, since, until)
GROUPS: tuple[tuple[str, str, list[str], list[str], int, int | None], ...] = (
    (
        "Marshallate",
        "The kingdom's marshals: they check cards at events.",
        ["check_cards"],
        ["manage_activities", "view_reports"],
        -3000,
        None,
    ),
    (
        "Membership Office",
        "Registers and verifies members; issues card links.",
        ["manage_members", "verify_members", "issue_card_links"],
        ["manage_groups", "view_reports"],
        -3000,
        None,
    ),
    (
        "Board of the Old Charter",
        "The board before the 2020 charter; ended.",
        ["view_reports"],
        [],
        -4000,
        -400,
    ),
)
# (group, member key, role, chair, since offset, until offset)
MEMBERSHIPS: tuple[tuple[str, str, str, bool, int, int | None], ...] = (
    ("Marshallate", "verified:0", "Earl Marshal", True, -700, None),
    ("Marshallate", "verified:1", "Deputy Earl Marshal", False, -300, None),
    ("Marshallate", "verified:2", "Event marshal", False, -900, -30),
    ("Marshallate", "verified:3", "Incoming deputy", False, 14, None),
    ("Membership Office", "verified:4", "Kingdom Membership Officer", True, -500, None),
    ("Membership Office", "verified:5", "Deputy Membership Officer", False, -200, None),
    ("Membership Office", "verified:6", "Former deputy", False, -1200, -100),
    ("Board of the Old Charter", "verified:7", "Chair of the board", True, -3000, -400),
)


async def _groups(db: AsyncSession, demo: DemoData) -> None:
    today = demo.today
    existing = {g.name: g for g in (await db.execute(select(Group))).scalars()}
    for name, description, perms, chair, since, until in GROUPS:
        group = existing.get(name)
        if group is None:
            group = await create_group(
                db,
                GroupValues(
                    name,
                    description,
                    today + dt.timedelta(days=since),
                    None if until is None else today + dt.timedelta(days=until),
                    perms,
                    chair,
                ),
                actor_id=None,
            )
        demo.groups[name] = group
    for group_name, key, role, is_chair, since, until in MEMBERSHIPS:
        group, member = demo.groups[group_name], demo.members[key]
        already = (
            await db.execute(
                select(GroupMembership.id).where(
                    GroupMembership.group_id == group.id, GroupMembership.member_id == member.id
                )
            )
        ).first()
        if already is None:
            values = MembershipValues(
                today + dt.timedelta(days=since),
                None if until is None else today + dt.timedelta(days=until),
                role,
                is_chair,
            )
            await add_membership(db, group.id, member, values, actor_id=None, today=today)


@demo_step(10)
async def core_demo(db: AsyncSession, demo: DemoData) -> None:
    await _branches(db, demo)
    admin = await _member(
        db,
        demo,
        "admin",
        {
            "email": ADMIN_EMAIL,
            "sca_name": "Demo Administrator",
            "first_name": "Ada",
            "last_name": "Admin",
            "branch_id": demo.branches["Kingdom of the Example"].id,
            "is_superuser": True,
            "is_staff": True,
        },
        ADMIN_PASSWORD,
    )
    await _members(db, demo)
    await _groups(db, demo)
    marshal, officer = demo.members["verified:0"], demo.members["verified:4"]
    # The weekly recap and login refusals need the office's address (kept if set).
    if not await get_setting(db, "membership_office_email"):
        await set_setting(db, "membership_office_email", officer.email, admin.id)
    demo.notes += [
        f"Log in at {demo.base_url}/login as {admin.email} with the password {ADMIN_PASSWORD}",
        f"The other demo members' password is {MEMBER_PASSWORD} (unless a line below says "
        f"otherwise), e.g. the Earl Marshal {marshal.email} or the Membership Officer "
        f"{officer.email}.",
    ]
