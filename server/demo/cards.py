"""Demo card: a verified member with a live card link, printed at the end of ``demo``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.issuing import MailContext
from server.cards.service import issue_link
from server.config import load_settings
from server.demo.registry import DemoData, demo_step
from server.members.models import Member
from server.members.status import refresh_status

DEMO_EMAIL = "card.demo@example.org"


@demo_step(20)
async def demo_card(db: AsyncSession, demo: DemoData) -> None:
    member = (
        await db.execute(select(Member).where(Member.email_key == DEMO_EMAIL))
    ).scalar_one_or_none()
    if member is None:
        branch = next(iter(demo.branches.values()), None)
        member = Member(
            email=DEMO_EMAIL,
            email_key=DEMO_EMAIL,
            sca_name="Aelfwyn of the Card",
            first_name="Alice",
            last_name="Example",
            branch_id=getattr(branch, "id", None),
            membership_number="100200",
            membership_expires_on=demo.today.replace(year=demo.today.year + 1),
            background_check_expires_on=demo.today + dt.timedelta(days=400),
            verified_at=dt.datetime.now(dt.UTC),
            birth_month=3,
            birth_year=demo.today.year - 34,
        )
        refresh_status(member, demo.today)
        db.add(member)
        await db.flush()
    demo.members.setdefault("card_demo", member)
    # A fresh link on every run (the previous one is revoked), so the printed one works.
    issued = await issue_link(
        db, member, None, MailContext(demo.base_url, str(load_settings().secret_key))
    )
    demo.notes.append(f"Demo member card ({member.sca_name}): {demo.base_url}/card/{issued.token}")
