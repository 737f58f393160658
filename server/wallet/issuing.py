"""A card link's pass in one wallet: made on the member's first tap, the same one after.

One pass per card link and wallet (a unique constraint): adding the card to Wallet
again returns the same serial and token, so the phone updates the pass it has instead
of showing a second one. The pass's content is computed right away
(``server.wallet.refresh``). Making a pass is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import record
from server.cards.models import CardLink
from server.cards.tokens import hash_token as hash_card_token
from server.cards.tokens import looks_like_token
from server.config import Settings
from server.members.models import Member
from server.wallet import tokens
from server.wallet.models import WalletPass
from server.wallet.refresh import refresh


@dataclass(frozen=True)
class LinkFound:
    link_id: int
    member_id: int


async def find_link(db: AsyncSession, card_token: str) -> LinkFound | int:
    """The live card link of ``card_token``, or the status to answer (404, 410)."""
    if not looks_like_token(card_token):
        return 404
    row = (
        await db.execute(
            select(CardLink.id, CardLink.member_id, CardLink.revoked_at, Member.deleted_at)
            .join(Member, Member.id == CardLink.member_id)
            .where(CardLink.token_hash == hash_card_token(card_token))
        )
    ).one_or_none()
    if row is None:
        return 404
    link_id, member_id, revoked_at, deleted_at = row
    if revoked_at is not None or deleted_at is not None:
        return 410
    return LinkFound(link_id, member_id)


async def _existing(db: AsyncSession, link_id: int, wallet: str) -> WalletPass | None:
    return (
        await db.execute(
            select(WalletPass).where(
                WalletPass.card_link_id == link_id, WalletPass.wallet == wallet
            )
        )
    ).scalar_one_or_none()


async def pass_for_link(
    db: AsyncSession, settings: Settings, link: LinkFound, wallet: str, now: dt.datetime
) -> WalletPass:
    """The link's pass in ``wallet`` (made now if it has none), its content current."""
    found = await _existing(db, link.link_id, wallet)
    if found is None:
        serial = tokens.new_serial()
        token_hash = (
            tokens.hash_token(tokens.auth_token(serial, str(settings.secret_key)))
            if wallet == "apple"
            else None
        )
        made = WalletPass(
            member_id=link.member_id,
            card_link_id=link.link_id,
            wallet=wallet,
            serial=serial,
            auth_token_hash=token_hash,
            created_at=now,
            updated_at=now,
            recheck_at=now,
        )
        db.add(made)
        try:
            await db.flush()
        except IntegrityError:  # the same tap twice at once: theirs stands
            await db.rollback()
        else:
            record(
                db,
                actor_id=None,
                action="wallet.pass_added",
                entity=made,
                member_id=link.member_id,
                after={"wallet": wallet, "serial": serial},
                note="through the member's card link",
            )
            await db.commit()
        found = await _existing(db, link.link_id, wallet)
        assert found is not None
    elif found.wallet == "apple":
        # A changed SECRET_KEY derives another token: the pass served from now on carries it.
        token_hash = tokens.hash_token(tokens.auth_token(found.serial, str(settings.secret_key)))
        if found.auth_token_hash != token_hash:
            found.auth_token_hash = token_hash
            await db.commit()
    if found.voided_at is None:
        await refresh(db, settings, [found.id], now=now)
        await db.refresh(found)
    return found
