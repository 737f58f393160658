"""What one printed auth card shows: the front facts and the sections cut into panels."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.authcards.layout import BackPanel, back_panels, folded_pairs, lines_below
from server.authcards.qr import qr_markup
from server.members.models import Branch, Member
from server.members.status import label as status_label
from server.plugins.contract import SectionContext
from server.plugins.registry import collect_sections_many

# A deactivated member's card (printed only when their status is ticked) shows nothing as
# valid, as their mobile card does (server.cards.wording).
NOT_VALID = "NOT VALID: deactivated"


@dataclass
class AuthCard:
    member: Member
    name: str
    branch: str
    status: str
    membership: str  # "Membership D19902026", or "No membership on record"
    membership_expiry: str  # "— expires 2027-09-30" (printed on one line), or ""
    membership_expired: bool
    deactivated: bool  # then the front and every back say that nothing on it is valid
    back_head: str  # the name at the top of each back panel (and "not valid" if deactivated)
    qr: Markup | None
    pairs: list[tuple[str | BackPanel, BackPanel | None]]


def membership_text(member: Member, today: dt.date) -> tuple[str, str, bool]:
    """("Membership 123", "— expires 2027-01-31", expired?) in words."""
    if not member.membership_number and member.membership_expires_on is None:
        return "No membership on record", "", False
    number = f"Membership {member.membership_number}" if member.membership_number else "Membership"
    expires = member.membership_expires_on
    if expires is None:
        return number, "", False
    if expires < today:
        return number, f"— EXPIRED {expires.isoformat()}", True
    return number, f"— expires {expires.isoformat()}", False


async def build_cards(
    db: AsyncSession, members: list[Member], today: dt.date, base_url: str
) -> list[AuthCard]:
    branch_ids = {m.branch_id for m in members if m.branch_id is not None}
    branches = dict(
        (await db.execute(select(Branch.id, Branch.name).where(Branch.id.in_(branch_ids)))).all()
    )
    sections = await collect_sections_many(db, members, SectionContext.AUTH_CARD, today)
    cards = []
    for member in members:
        membership, expiry, expired = membership_text(member, today)
        name = member.sca_name or member.display_name
        deactivated = member.is_deactivated
        back_head = f"{name} — {NOT_VALID}" if deactivated else name
        cards.append(
            AuthCard(
                member=member,
                name=name,
                branch=branches.get(member.branch_id, "") if member.branch_id else "",
                status=status_label(member.status),
                membership=membership,
                membership_expiry=expiry,
                membership_expired=expired,
                deactivated=deactivated,
                back_head=back_head,
                qr=await qr_markup(db, member, base_url),
                pairs=folded_pairs(back_panels(sections[member.id], lines_below(back_head))),
            )
        )
    return cards
