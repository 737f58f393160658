"""Demo card: a verified member with a live card link, printed at the end of ``demo``.

The demo link's token is derived from SECRET_KEY (16 bytes of an HMAC), so running
``demo`` again prints the same working link instead of replacing it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.issuing import MailContext, issue_batch, load_recipients
from server.cards.service import live_link
from server.cards.tokens import hash_token
from server.config import load_settings
from server.demo.registry import DemoData, demo_step
from server.members.models import Member
from server.members.status import refresh_status

DEMO_EMAIL = "card.demo@example.org"


def demo_token(secret_key: str) -> str:
    digest = hmac.new(secret_key.encode(), b"tessera demo card", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


async def _demo_member(db: AsyncSession, demo: DemoData) -> Member:
    member = (
        await db.execute(select(Member).where(Member.email_key == DEMO_EMAIL))
    ).scalar_one_or_none()
    if member is not None:
        return member
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
    return member


@demo_step(20)
async def demo_card(db: AsyncSession, demo: DemoData) -> None:
    member = await _demo_member(db, demo)
    demo.members.setdefault("card_demo", member)
    settings = load_settings()
    secret = str(settings.secret_key)
    token = demo_token(secret)
    link = await live_link(db, member.id)
    if link is None or link.token_hash != hash_token(token):
        await issue_batch(
            db,
            await load_recipients(db, [member.id]),
            actor_id=None,
            via="demo",
            mail=MailContext(demo.base_url, secret, settings.wallet.offered()),
            tokens={member.id: token},
        )
    demo.notes.append(f"Demo member card ({member.sca_name}): {demo.base_url}/card/{token}")
