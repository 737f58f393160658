"""How a pass learns that what it shows changed, and when it is voided.

A pass remembers the card payload generation and the card epoch its content was
computed from (``seen_generation``, ``seen_epoch``). The card's one invalidation API
(``server.cards.invalidation``) moves those; nothing on the card's path knows about
passes. A live pass is *stale* when

- its card link was revoked or replaced (→ voided),
- the member's payload generation or the card epoch moved since it was computed, or
- its ``recheck_at`` passed (the organisation's day turned: an expiry may have passed;
  its check code is due for renewal).

``refresh`` recomputes stale passes in two steps, like the card builder: a read
transaction builds the card payloads (``build_many``, set-based), then a short write
transaction locks the passes, stores content only where it changed — a new ``tag``,
``updated_at`` and the pushes and API updates queued in the same transaction — and
records what it was computed from. It runs in the background sweep
(``server.wallet.worker``) and on demand when a device asks for its serials or its pass,
so a device that asks always gets what the card shows now.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import clock
from server.cards.builder import build_many
from server.cards.invalidation import CURRENT_EPOCH
from server.cards.models import CardLink, CardPayload
from server.checks import codes
from server.checks.keyring import keyring_for
from server.checks.revocations import latest_revocations
from server.config import Settings
from server.db.transactions import lock_for_write
from server.members.models import Member
from server.settings.store import load_settings
from server.wallet import content as pass_content
from server.wallet.delivery import queue_updates
from server.wallet.models import WalletPass, WalletPassCode
from server.wallet.tags import next_modified, next_tag
from server.wallet.voiding import void_locked

SWEEP_CHUNK = 200


def _keep_earlier_code(
    db: AsyncSession, wallet_pass: WalletPass, new_code: str, now: dt.datetime
) -> None:
    """Remember the code the pass showed until now if it is replaced while still valid:
    a phone offline since, or a copy of the earlier pass, still shows it, and voiding
    the pass must refuse it too (``WalletPassCode``)."""
    earlier = wallet_pass.check_code
    if not earlier or earlier == new_code:
        return
    times = codes.times(earlier)  # a code this server stored: no need to verify it
    if times is None:
        return
    valid_until = dt.datetime.fromtimestamp(times[1], dt.UTC)
    if valid_until <= now:
        return
    db.add(
        WalletPassCode(
            pass_id=wallet_pass.id,
            member_id=wallet_pass.member_id,
            code=earlier,
            valid_until=valid_until,
        )
    )


@dataclass
class RefreshReport:
    checked: int = 0
    changed: list[int] = field(default_factory=list)
    voided: list[int] = field(default_factory=list)


def _link_void_reason(revoke_reason: str) -> str:
    if revoke_reason == "replaced":
        return "The card link was replaced by a new one."
    return (
        f"The card link was revoked ({revoke_reason})."
        if revoke_reason
        else "The card link was revoked."
    )


def stale_condition(now: dt.datetime) -> ColumnElement[bool]:
    return or_(
        CardLink.revoked_at.is_not(None),
        func.coalesce(CardPayload.generation, -2) != WalletPass.seen_generation,
        WalletPass.seen_epoch != CURRENT_EPOCH,
        WalletPass.recheck_at <= now,
    )


async def stale_passes(db: AsyncSession, now: dt.datetime, limit: int = SWEEP_CHUNK) -> list[int]:
    """Live passes that must be recomputed (or voided), oldest first."""
    return list(
        (
            await db.execute(
                select(WalletPass.id)
                .join(CardLink, CardLink.id == WalletPass.card_link_id)
                .outerjoin(CardPayload, CardPayload.member_id == WalletPass.member_id)
                .where(WalletPass.voided_at.is_(None), stale_condition(now))
                .order_by(WalletPass.id)
                .limit(limit)
            )
        ).scalars()
    )


@dataclass(frozen=True)
class _Seen:
    generation: int
    link_revoked: bool
    revoke_reason: str
    revoked_by_id: int | None  # the officer who revoked or replaced the link, if one did


async def refresh(
    db: AsyncSession,
    settings: Settings,
    pass_ids: Sequence[int],
    *,
    now: dt.datetime | None = None,
) -> RefreshReport:
    """Recompute those of these passes that are stale; commits. See the module docstring."""
    now = now or clock.now()
    report = RefreshReport()
    ids = sorted(set(pass_ids))
    if not ids:
        return report
    # 1. Read: what each pass was computed from, and the card payloads now.
    query = (
        select(
            WalletPass,
            CardLink.revoked_at,
            CardLink.revoke_reason,
            CardLink.revoked_by_id,
            CardPayload.generation,
        )
        .join(CardLink, CardLink.id == WalletPass.card_link_id)
        .outerjoin(CardPayload, CardPayload.member_id == WalletPass.member_id)
        .where(WalletPass.id.in_(ids), WalletPass.voided_at.is_(None))
        .where(stale_condition(now))
    )
    rows = (await db.execute(query)).all()
    if not rows:
        await db.commit()
        return report
    epoch = int((await db.execute(select(CURRENT_EPOCH))).scalar_one())
    seen = {
        p.id: _Seen(-2 if generation is None else generation, revoked is not None, reason or "", by)
        for p, revoked, reason, by, generation in rows
    }
    members = sorted({p.member_id for p, *_ in rows})
    built = await build_many(db, members, settings, now)
    facts = {m: pass_content.facts_of(json.loads(b.body)) for m, b in built.items() if b}
    identity = {
        m.id: (m.public_id, m.membership_expires_on)
        for m in (await db.execute(select(Member).where(Member.id.in_(members)))).scalars()
    }
    revocations = await latest_revocations(db, members)
    site = await load_settings(db)
    await db.commit()  # the read ends before the write begins
    recheck_day = clock.next_midnight(site, clock.today(site, now))
    ring = keyring_for(settings.data_dir)

    # 2. Write: lock the passes, store what changed.
    await lock_for_write(db)
    locked = list(
        (
            await db.execute(
                select(WalletPass)
                .where(WalletPass.id.in_(list(seen)), WalletPass.voided_at.is_(None))
                .order_by(WalletPass.id)
                .with_for_update()
            )
        ).scalars()
    )
    tag = await next_tag(db, now)
    to_tell: list[WalletPass] = []  # passes devices must hear about
    for wallet_pass in locked:
        state = seen[wallet_pass.id]
        report.checked += 1
        member_facts = facts.get(wallet_pass.member_id)
        if state.link_revoked or member_facts is None:
            reason = (
                _link_void_reason(state.revoke_reason)
                if state.link_revoked
                else "The member was deleted."
            )
            actor = state.revoked_by_id if state.link_revoked else None
            void_locked(db, wallet_pass, actor_id=actor, reason=reason, now=now, tag=tag)
            tag += 1
            report.voided.append(wallet_pass.id)
            to_tell.append(wallet_pass)
            continue
        public_id, expires_on = identity[wallet_pass.member_id]
        revoked_before = revocations.get(wallet_pass.member_id)
        code = pass_content.read_code(pass_content.stored_code(wallet_pass.content), ring)
        if not pass_content.keep_code(
            code, ring, public_id, expires_on, now, revoked_before, wallet_pass.id, site
        ):
            code = pass_content.fresh_code(
                ring, public_id, expires_on, now, revoked_before, wallet_pass.id, site
            )
        assert code is not None
        text = pass_content.content_of(member_facts, code, settings.base_url)
        digest = pass_content.content_hash(text)
        if digest != wallet_pass.content_hash:
            first = not wallet_pass.content  # a new pass: no device has an older one
            wallet_pass.content = text
            wallet_pass.content_hash = digest
            _keep_earlier_code(db, wallet_pass, code.text, now)
            wallet_pass.check_code = code.text
            wallet_pass.updated_at = next_modified(wallet_pass.updated_at, now)
            wallet_pass.tag = tag
            tag += 1
            report.changed.append(wallet_pass.id)
            if not first:
                to_tell.append(wallet_pass)
        wallet_pass.seen_generation = state.generation
        wallet_pass.seen_epoch = epoch
        wallet_pass.recheck_at = min(recheck_day, code.valid_until - pass_content.RENEW_BEFORE)
        if wallet_pass.recheck_at <= now:
            wallet_pass.recheck_at = recheck_day
    await db.flush()
    await queue_updates(db, settings, to_tell, now)
    await db.commit()
    return report
