"""Destructive actions ask first: a confirmation page with a reason, no JavaScript needed.

Each action below has a GET page at its own address (``/members/{id}/deactivate`` …) that
says what will happen, asks for a reason and posts to the same address. The POST refuses
a missing reason by showing the page again with the error at the field, and the action
itself re-checks everything on the server (``members.actions``, ``cards.service``). When
the action cannot apply (nothing to clear, already deactivated, no live link) the page
says so and offers no button.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import clock
from server.auth.guards import page
from server.auth.precedence import refusal
from server.cards.service import live_link, refusal_for_member
from server.members.models import Member
from server.members.status import compute_status, is_adult, label
from server.settings.store import load_settings
from server.web.forms import parse_id
from server.web.templating import render

REASON_MISSING = "Give a reason; it is kept in the member's audit trail."

Consequences = Callable[[AsyncSession, Member], Awaitable[list[str]]]
Refusal = Callable[[AsyncSession, Member], Awaitable[str | None]]
Subject = Callable[[AsyncSession, Member], Awaitable[str]]


@dataclass(frozen=True)
class Confirmation:
    key: str  # the address: /members/{id}/<key>
    verb: str  # the button and the title: "Deactivate"
    reason_label: str
    consequences: Consequences
    refusal: Refusal  # why the action cannot apply now, or None
    # What the page was about (the live link's id), posted back: the POST refuses when
    # it changed meanwhile (a second click, another officer), see ``changed_meanwhile``.
    subject: Subject | None = None

    def action(self, member: Member) -> str:
        return f"/members/{member.id}/{self.key}"


async def _clear_consequences(db: AsyncSession, member: Member) -> list[str]:
    after = compute_status(
        deactivated=member.is_deactivated,
        adult=is_adult(member.birth_month, member.birth_year, clock.today(await load_settings(db))),
        verified=False,
        parent_linked=member.parent_id is not None,
    )
    facts = [
        f"number {member.membership_number}" if member.membership_number else "",
        f"expiry {member.membership_expires_on.isoformat()}"
        if member.membership_expires_on
        else "",
        "the verification record" if member.verified_at else "",
    ]
    removed = ", ".join(f for f in facts if f)
    return [
        f"The membership information is removed: {removed}.",
        f"The status changes from “{label(member.status)}” to “{label(after)}”.",
        "Their card and the marshal check show the membership as not verified.",
    ]


async def _clear_refusal(db: AsyncSession, member: Member) -> str | None:
    if member.verified_at or member.membership_number or member.membership_expires_on:
        return None
    return "This member has no membership information to clear."


async def _deactivate_consequences(db: AsyncSession, member: Member) -> list[str]:
    children = list(
        (
            await db.execute(
                select(Member.sca_name, Member.first_name, Member.last_name)
                .where(Member.parent_id == member.id, Member.deleted_at.is_(None))
                .order_by(Member.sca_name)
            )
        ).all()
    )
    lines = [
        "They can no longer log in, and any session they have ends.",
        "Their card and the marshal check show “Deactivated”; no new card link can be issued.",
    ]
    if children:
        names = ", ".join(sca or f"{first} {last}".strip() for sca, first, last in children)
        lines.append(
            f"They are the linked parent of {names}: "
            "those links end, and the minors cannot log in until another parent is linked."
        )
    lines.append("Reactivating them later recomputes their status; ended parent links stay ended.")
    return lines


async def _deactivate_refusal(db: AsyncSession, member: Member) -> str | None:
    return "This member is already deactivated." if member.is_deactivated else None


async def _revoke_consequences(db: AsyncSession, member: Member) -> list[str]:
    link = await live_link(db, member.id)
    issued = link.issued_at.date().isoformat() if link else "?"
    return [
        f"The card link issued on {issued} stops working at once.",
        "Their phone shows “this card link was replaced or revoked” and drops its saved copy.",
        "You can email them a new link afterwards.",
    ]


async def _revoke_refusal(db: AsyncSession, member: Member) -> str | None:
    if await live_link(db, member.id) is None:
        return f"{member.display_name} has no live card link to revoke."
    return None


async def _replace_consequences(db: AsyncSession, member: Member) -> list[str]:
    link = await live_link(db, member.id)
    issued = link.issued_at.date().isoformat() if link else "?"
    parent = " and to their linked parent" if member.parent_id is not None else ""
    return [
        f"The card link issued on {issued} stops working at once: the card on their phone "
        "shows “this card link was replaced or revoked”.",
        f"A new card link is emailed to {member.email}{parent}; the card works again once "
        "they open it.",
    ]


async def _live_link_id(db: AsyncSession, member: Member) -> str:
    link = await live_link(db, member.id)
    return "" if link is None else str(link.id)


async def _replace_refusal(db: AsyncSession, member: Member) -> str | None:
    problem = refusal_for_member(member)
    if problem:
        return problem
    if await live_link(db, member.id) is None:
        return (
            f"{member.display_name} has no live card link to replace: "
            "email them one from their page."
        )
    return None


CLEAR = Confirmation(
    "clear-membership",
    "Clear membership info",
    "Why is the membership information cleared?",
    _clear_consequences,
    _clear_refusal,
)
DEACTIVATE = Confirmation(
    "deactivate",
    "Deactivate",
    "Reason for the deactivation",
    _deactivate_consequences,
    _deactivate_refusal,
)
REVOKE = Confirmation(
    "card-links/revoke",
    "Revoke the card link",
    "Reason for revoking (e.g. phone lost)",
    _revoke_consequences,
    _revoke_refusal,
    _live_link_id,
)

REPLACE = Confirmation(
    "card-links/replace",
    "Replace the card link",
    "Why is the card link replaced? (e.g. new phone)",
    _replace_consequences,
    _replace_refusal,
    _live_link_id,
)


async def _member(request: Request) -> Member:
    member_id = parse_id(request.path_params.get("member_id"))
    db: AsyncSession = request.state.db
    member = None if member_id is None else await db.get(Member, member_id)
    if member is None or member.is_deleted:
        raise HTTPException(404, "There is no such member.")
    return member


async def confirmation_page(
    request: Request,
    confirmation: Confirmation,
    member: Member,
    *,
    error: str = "",
    reason: str = "",
    status_code: int = 200,
) -> Response:
    db = request.state.db
    refused = await refusal(request, member) or await confirmation.refusal(db, member)
    return render(
        request,
        "members/confirm.html",
        {
            "member": member,
            "confirmation": confirmation,
            "refused": refused,
            "consequences": [] if refused else await confirmation.consequences(db, member),
            "errors": {"reason": error} if error else {},
            "reason": reason,
            "subject": await confirmation.subject(db, member)
            if confirmation.subject and not refused
            else "",
        },
        status_code=status_code,
    )


async def changed_meanwhile(
    request: Request, confirmation: Confirmation, member: Member, posted: str
) -> bool:
    """Whether the page posted (``posted``: its ``subject`` field) was about something
    that has changed since: the live link it would replace was replaced or revoked."""
    if not posted or confirmation.subject is None:
        return False
    return posted != await confirmation.subject(request.state.db, member)


def confirm_route(
    permission: str, confirmation: Confirmation
) -> Callable[..., Awaitable[Response]]:
    """The GET page of ``confirmation``, for holders of ``permission``."""

    @page(permission)
    async def show(request: Request) -> Response:
        return await confirmation_page(request, confirmation, await _member(request))

    return show


routes = [
    Route(f"/members/{{member_id}}/{c.key}", confirm_route(permission, c), methods=["GET"])
    for permission, c in (
        ("verify_members", CLEAR),
        ("manage_members", DEACTIVATE),
        ("issue_card_links", REVOKE),
        ("issue_card_links", REPLACE),
    )
]
