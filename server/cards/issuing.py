"""Issuing and revoking card links: one set-based code path for one member or thousands.

Steps for a batch of members (one transaction, the caller's):
1. Revoke their live links (``live_member_id`` → NULL, revoked_at/by, reason "replaced").
2. Insert one new link per member: only the SHA-256 of the fresh token is stored.
3. Make sure each has a payload row (so invalidation reaches it later).
4. Queue the email (the link sealed, see ``server.mail.sealed``) to the member, and for
   a minor with a linked parent also to the parent.
5. Write one audit row per member.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from markupsafe import escape
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.audit.models import AuditEntry
from server.cards import builder
from server.cards.models import CardLink
from server.cards.tokens import card_path, hash_token, new_token
from server.config import Settings
from server.database import utcnow
from server.mail.models import OutboxMessage
from server.mail.outbox import fit_subject, render_email
from server.mail.sealed import seal
from server.members.models import Member
from server.settings.store import load_settings

MINOR_STATUSES = frozenset(
    {"minor_unverified", "minor_membership_verified", "minor_parent_verified", "minor_verified"}
)


@dataclass(frozen=True)
class Recipient:
    member_id: int
    name: str
    email: str
    is_minor: bool
    parent_name: str | None
    parent_email: str | None


@dataclass(frozen=True)
class MailContext:
    """What an emailed link needs: where the site lives, the key that seals it, and the
    wallets the email offers (``server.wallet``: "apple", "google")."""

    base_url: str
    secret_key: str
    wallets: frozenset[str] = frozenset()

    @classmethod
    def of(cls, settings: Settings) -> MailContext:
        return cls(settings.base_url, str(settings.secret_key), settings.wallet.offered())


async def load_recipients(db: AsyncSession, member_ids: list[int]) -> list[Recipient]:
    parent = aliased(Member)
    query = (
        select(
            Member.id,
            Member.sca_name,
            Member.first_name,
            Member.last_name,
            Member.email,
            Member.status,
            parent.sca_name,
            parent.email,
            parent.deleted_at,
        )
        .outerjoin(parent, parent.id == Member.parent_id)
        .where(Member.id.in_(member_ids))
        .order_by(Member.id)
    )
    rows = (await db.execute(query)).all()
    result = []
    for mid, sca, first, last, email, status, p_name, p_email, p_deleted in rows:
        name = sca or " ".join(p for p in (first, last) if p) or email
        has_parent = p_email is not None and p_deleted is None
        result.append(
            Recipient(
                mid,
                name,
                email,
                status in MINOR_STATUSES,
                p_name if has_parent else None,
                p_email if has_parent else None,
            )
        )
    return result


class CardEmailRenderer:
    """The card-link email for many members: each template variant is rendered once with
    markers, then the markers are replaced (HTML-escaped in the HTML part)."""

    FIELDS = ("greeting", "member_name", "card_url", "wallet_url")

    def __init__(self, site: dict[str, Any], wallets: frozenset[str] = frozenset()) -> None:
        self.site = site
        self.wallets = sorted(wallets)
        self._variants: dict[bool, tuple[str, str, str]] = {}

    def _variant(self, for_parent: bool) -> tuple[str, str, str]:
        if for_parent not in self._variants:
            markers = {f: f"\x00{f}\x00" for f in self.FIELDS}
            self._variants[for_parent] = render_email(
                "card_link",
                {"site": self.site, "for_parent": for_parent, "wallets": self.wallets, **markers},
            )
        return self._variants[for_parent]

    def __call__(
        self,
        greeting: str,
        member_name: str,
        for_parent: bool,
        card_url: str,
        wallet_url: str = "",
    ) -> tuple[str, str, str]:
        values = dict(zip(self.FIELDS, (greeting, member_name, card_url, wallet_url), strict=True))
        subject, text, html = self._variant(for_parent)
        for field, value in values.items():
            marker = f"\x00{field}\x00"
            subject = subject.replace(marker, value)
            text = text.replace(marker, value)
            html = html.replace(marker, str(escape(value)))
        return fit_subject(subject), text, html


async def issue_batch(
    db: AsyncSession,
    recipients: list[Recipient],
    *,
    actor_id: int | None,
    via: str,
    mail: MailContext,
    now: dt.datetime | None = None,
    tokens: dict[int, str] | None = None,
) -> dict[int, str]:
    """Issue new links to ``recipients`` (already checked). Returns member id → token.

    ``tokens`` may fix some members' tokens (the demo's stable link); the rest are random.
    """
    if not recipients:
        return {}
    now = now or utcnow()
    ids = [r.member_id for r in recipients]
    await db.execute(
        update(CardLink)
        .where(CardLink.live_member_id.in_(ids))
        .values(
            live_member_id=None, revoked_at=now, revoked_by_id=actor_id, revoke_reason="replaced"
        )
    )
    tokens = {r.member_id: (tokens or {}).get(r.member_id) or new_token() for r in recipients}
    await db.execute(
        insert(CardLink),
        [
            {
                "member_id": mid,
                "token_hash": hash_token(token),
                "live_member_id": mid,
                "issued_at": now,
                "issued_by_id": actor_id,
                "issued_via": via,
                "revoke_reason": "",
            }
            for mid, token in tokens.items()
        ],
    )
    await builder.ensure_rows(db, ids)
    site = await load_settings(db)
    render = CardEmailRenderer(site, mail.wallets)
    messages = []
    for r in recipients:
        sealed = seal(tokens[r.member_id], mail.secret_key)
        url = mail.base_url + card_path(sealed)
        wallet_url = f"{mail.base_url}/wallet/{sealed}" if mail.wallets else ""
        targets = [(r.email, r.name, False)]
        if r.is_minor and r.parent_email:
            targets.append((r.parent_email, r.parent_name or r.parent_email, True))
        for address, greeting, for_parent in targets:
            subject, text, html = render(greeting, r.name, for_parent, url, wallet_url)
            messages.append(
                {
                    "created_at": now,
                    "kind": "card_link",
                    "to_addr": address,
                    "subject": subject,
                    "body_text": text,
                    "body_html": html,
                    "member_id": r.member_id,
                    "queued_by_id": actor_id,
                    "status": "queued",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": "",
                }
            )
    await db.execute(insert(OutboxMessage), messages)
    await db.execute(
        insert(AuditEntry),
        [
            {
                "at": now,
                "actor_id": actor_id,
                "action": "card_link.issue",
                "entity_type": "card_links",
                "entity_id": None,
                "member_id": r.member_id,
                "before": None,
                "after": {"via": via, "parent_emailed": bool(r.is_minor and r.parent_email)},
                "note": "",
            }
            for r in recipients
        ],
    )
    return tokens
