"""Card-link actions for one member, with every check made on the server."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import record
from server.auth.access import has_permission
from server.cards.issuing import MailContext, issue_batch, load_recipients
from server.cards.models import CardLink
from server.database import utcnow
from server.members.models import Member
from server.members.status import is_adult


class CardRefused(Exception):
    """The action is not allowed or not possible; the message says why."""


@dataclass(frozen=True)
class Issued:
    token: str
    recipients: list[str]


def refusal_for_member(member: Member) -> str | None:
    if member.deleted_at is not None:
        return f"{member.display_name} was deleted; deleted members have no card."
    if member.deactivated_at is not None:
        reason = f" (reason: {member.deactivation_reason})" if member.deactivation_reason else ""
        return (
            f"{member.display_name} is deactivated{reason}: "
            "a deactivated member cannot get a card link. Reactivate them first."
        )
    return None


async def issue_role(db: AsyncSession, actor: Member, member: Member, today: dt.date) -> str | None:
    """How ``actor`` may issue ``member``'s link: "admin", "self", "parent" or None."""
    if await has_permission(db, actor, "issue_card_links", today):
        return "admin"
    if actor.id == member.id:
        return "self"
    if member.parent_id == actor.id and not is_adult(member.birth_month, member.birth_year, today):
        return "parent"
    return None


async def issue_link(
    db: AsyncSession, member: Member, actor: Member | None, mail: MailContext, today: dt.date
) -> Issued:
    """Issue ``member`` a new link (revoking the old one) and queue the email.

    ``actor`` None means the command line (the operator); ``today`` is the organisation's
    date. Raises CardRefused.
    """
    via = "command line"
    if actor is not None:
        role = await issue_role(db, actor, member, today)
        if role is None:
            raise CardRefused("You may not issue a card link for this member.")
        via = role
    problem = refusal_for_member(member)
    if problem:
        raise CardRefused(problem)
    recipients = await load_recipients(db, [member.id])
    tokens = await issue_batch(
        db, recipients, actor_id=actor.id if actor else None, via=via, mail=mail
    )
    sent_to = [member.email]
    if recipients[0].is_minor and recipients[0].parent_email:
        sent_to.append(recipients[0].parent_email)
    return Issued(tokens[member.id], sent_to)


async def live_link(db: AsyncSession, member_id: int) -> CardLink | None:
    return (
        await db.execute(select(CardLink).where(CardLink.live_member_id == member_id))
    ).scalar_one_or_none()


async def link_history(db: AsyncSession, member_id: int, limit: int = 20) -> list[CardLink]:
    return list(
        (
            await db.execute(
                select(CardLink)
                .where(CardLink.member_id == member_id)
                .order_by(CardLink.issued_at.desc(), CardLink.id.desc())
                .limit(limit)
            )
        ).scalars()
    )


async def revoke_link(
    db: AsyncSession, member: Member, actor: Member | None, reason: str, today: dt.date
) -> None:
    """Revoke the member's live link (admins only; None = the command line)."""
    if actor is not None and not await has_permission(db, actor, "issue_card_links", today):
        raise CardRefused("You need the 'issue_card_links' permission to revoke card links.")
    link = await live_link(db, member.id)
    if link is None:
        raise CardRefused(f"{member.display_name} has no live card link to revoke.")
    link.revoked_at = utcnow()
    link.revoked_by_id = actor.id if actor else None
    link.revoke_reason = reason or "revoked"
    link.live_member_id = None
    record(
        db,
        actor_id=actor.id if actor else None,
        action="card_link.revoke",
        entity=link,
        member_id=member.id,
        note=link.revoke_reason,
    )
