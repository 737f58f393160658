"""Demo data for issue 3 (order 20): agreements, applicants, and members in all seven statuses."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.applicants.models import Applicant
from server.database import utcnow
from server.demo.registry import DemoData, demo_step
from server.member_codes.models import Agreement
from server.member_codes.validation import code_key
from server.members.models import Branch, Member
from server.members.service import create_member
from server.members.status import STATUSES

SPONSOR_BRANCH = "Barony of Stonebridge"


async def _branch(db: AsyncSession, demo: DemoData, name: str) -> Branch:
    branch = (
        demo.branches.get(name)
        or (await db.execute(select(Branch).where(Branch.name == name))).scalar_one_or_none()
    )
    if branch is None:
        branch = Branch(name=name, kind="barony")
        db.add(branch)
        await db.flush()
    return branch


async def _agreement(db: AsyncSession, code: str, **values: Any) -> Agreement:
    found = (
        await db.execute(select(Agreement).where(Agreement.code_key == code_key(code)))
    ).scalar_one_or_none()
    if found is None:
        found = Agreement(code=code, code_key=code_key(code), **values)
        db.add(found)
        await db.flush()
    return found


async def _applicant(db: AsyncSession, **values: Any) -> None:
    email = values["email"]
    exists = await db.scalar(select(Applicant.id).where(Applicant.email == email))
    member = await db.scalar(select(Member.id).where(Member.email_key == email.lower()))
    if exists is None and member is None:
        db.add(Applicant(terms_accepted_at=utcnow(), **values))


def _status_facts(key: str, today: dt.date, parent_id: int) -> dict[str, Any]:
    status = next(s for s in STATUSES if s.key == key)
    now = utcnow()
    facts: dict[str, Any] = {"birth_month": 1, "birth_year": today.year - 35}
    if status.adult is False:
        facts["birth_year"] = today.year - 12
    if status.deactivated:
        facts.update(deactivated_at=now, deactivation_reason="Demo: left the society")
    if status.verified:
        facts.update(
            verified_at=now,
            membership_number=f"D{100_000 + STATUSES.index(status)}",
            membership_expires_on=today + dt.timedelta(days=300),
        )
    if status.parent_linked:
        facts["parent_id"] = parent_id
    return facts


async def _every_status(db: AsyncSession, demo: DemoData, branch: Branch) -> None:
    """Add a demo member for each status no member has yet (core demo seeds most)."""
    present = set(
        (await db.execute(select(Member.status).where(Member.deleted_at.is_(None)))).scalars()
    )
    parent = (
        demo.members.get("admin")
        or (
            await db.execute(select(Member).where(Member.deactivated_at.is_(None)).limit(1))
        ).scalar_one_or_none()
    )
    if parent is None:
        parent = await create_member(
            db,
            {"email": "parent@demo.example.org", "sca_name": "Demo Parent", "branch_id": branch.id},
            actor_id=None,
            action="member.demo",
            today=demo.today,
        )
    for status in STATUSES:
        if status.key in present:
            continue
        member = await create_member(
            db,
            {
                "email": f"status-{status.key.replace('_', '-')}@demo.example.org",
                "sca_name": f"Demo {status.label}",
                "first_name": "Demo",
                "last_name": status.label.replace("<", "under"),
                "branch_id": branch.id,
                **_status_facts(status.key, demo.today, parent.id),
            },
            actor_id=None,
            action="member.demo",
            today=demo.today,
        )
        demo.members[f"status:{status.key}"] = member


@demo_step(20)
async def applicants_demo(db: AsyncSession, demo: DemoData) -> None:
    today = demo.today
    sponsor = await _branch(db, demo, SPONSOR_BRANCH)
    await _every_status(db, demo, sponsor)
    await _agreement(
        db,
        "STONE-2026",
        organisation="Stonebridge Archery Guild",
        branch_id=sponsor.id,
        starts_on=today - dt.timedelta(days=60),
        ends_on=today + dt.timedelta(days=300),
        seats=5,
    )
    amber = demo.branches.get("Shire of Amberdale")
    await _agreement(
        db,
        "AMBER-2024",
        organisation="Amberdale Fencing Club",
        branch_id=amber.id if amber else None,
        starts_on=dt.date(today.year - 2, 1, 1),
        ends_on=dt.date(today.year - 2, 12, 31),
        seats=3,
    )
    common = {"birth_month": 4, "birth_year": today.year - 28, "street_address": "1 Demo Lane"}
    await _applicant(
        db,
        sca_name="Osric the Hopeful",
        first_name="Oscar",
        last_name="Hope",
        email="osric@demo.example.org",
        member_code="STONE-2025",
        code_override=True,
        branch_id=sponsor.id,
        **common,
    )
    twin = (
        (await db.execute(select(Member).where(Member.deleted_at.is_(None)).order_by(Member.id)))
        .scalars()
        .first()
    )
    if twin is not None:
        await _applicant(
            db,
            sca_name=f"{twin.sca_name} (again)",
            first_name=twin.first_name or "Ada",
            last_name=twin.last_name or "Admin",
            phone=twin.phone,
            email="second-account@demo.example.org",
            **common,
        )
    await _applicant(
        db,
        sca_name="Wynn of Stonebridge",
        first_name="Wendy",
        last_name="Wynn",
        email="wynn@demo.example.org",
        branch_id=sponsor.id,
        **common,
    )
    await _applicant(
        db,
        sca_name="Little Tamsin",
        first_name="Tamsin",
        last_name="Archer",
        email="tamsin@demo.example.org",
        member_code="stone-2026",
        branch_id=sponsor.id,
        birth_month=9,
        birth_year=today.year - 14,
    )
    await db.flush()
    demo.notes.append(f"Applicants to review: {demo.base_url}/applicants")
