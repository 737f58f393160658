"""Voiding a pass: Apple shows it as void (``voided: true``), Google as inactive.

A pass is voided when its card link is revoked or replaced, when the member is deleted
(both found by ``server.wallet.refresh``) or by staff. A voided pass stays in the
table with who voided it, when and why, and an audit row; the devices are told
through the same queued pushes and API updates as any change.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import record
from server.config import Settings
from server.db.transactions import lock_for_write
from server.wallet.delivery import queue_updates
from server.wallet.models import WalletPass
from server.wallet.tags import next_modified, next_tag

WALLET_NAMES = {"apple": "Apple Wallet", "google": "Google Wallet"}


class VoidRefused(Exception):
    """The pass cannot be voided (already void, unknown); the message says why."""


def void_locked(
    db: AsyncSession,
    wallet_pass: WalletPass,
    *,
    actor_id: int | None,
    reason: str,
    now: dt.datetime,
    tag: int,
) -> None:
    """Void a pass whose row the caller has locked, with its audit row."""
    wallet_pass.voided_at = now
    wallet_pass.voided_by_id = actor_id
    wallet_pass.void_reason = reason
    wallet_pass.updated_at = next_modified(wallet_pass.updated_at, now)
    wallet_pass.tag = tag
    record(
        db,
        actor_id=actor_id,
        action="wallet.void",
        entity=wallet_pass,
        member_id=wallet_pass.member_id,
        after={"wallet": wallet_pass.wallet, "serial": wallet_pass.serial},
        note=reason,
    )


async def void_pass(
    db: AsyncSession,
    settings: Settings,
    pass_id: int,
    member_id: int,
    *,
    actor_id: int | None,
    reason: str,
    now: dt.datetime,
) -> WalletPass:
    """Void one of ``member_id``'s passes in the caller's transaction (staff)."""
    await lock_for_write(db)
    wallet_pass = (
        await db.execute(
            select(WalletPass)
            .where(WalletPass.id == pass_id, WalletPass.member_id == member_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if wallet_pass is None:
        raise VoidRefused("There is no such pass.")
    if wallet_pass.voided_at is not None:
        raise VoidRefused(f"This {WALLET_NAMES[wallet_pass.wallet]} pass is already void.")
    void_locked(
        db,
        wallet_pass,
        actor_id=actor_id,
        reason=reason,
        now=now,
        tag=await next_tag(db, now),
    )
    await db.flush()
    await queue_updates(db, settings, [wallet_pass], now)
    return wallet_pass
