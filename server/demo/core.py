"""Core demo data (order 10): the branch tree, members in every status, groups, an admin."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.passwords import hash_password
from server.demo.registry import DemoData, demo_step
from server.members.models import Branch, Member
from server.members.service import create_member

ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "tessera-demo-admin"

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


async def _member(db: AsyncSession, demo: DemoData, key: str, values: dict) -> Member:
    """The member with this email, created on the first run only."""
    email = values["email"]
    member = (
        await db.execute(select(Member).where(Member.email_key == email.lower()))
    ).scalar_one_or_none()
    if member is None:
        member = await create_member(db, values, actor_id=None, action="member.demo")
    demo.members[key] = member
    return member


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
            "password_hash": hash_password(ADMIN_PASSWORD),
            "is_superuser": True,
            "is_staff": True,
        },
    )
    demo.notes.append(
        f"Log in at {demo.base_url}/login as {admin.email} with the password {ADMIN_PASSWORD}"
    )
