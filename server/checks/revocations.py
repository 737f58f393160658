"""Revoking a member's codes (a lost printed card) and the list offline scanners cache."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import record
from server.cards.invalidation import invalidate
from server.checks import codes
from server.checks.models import CodeRevocation
from server.database import utcnow
from server.members.models import Member
from server.wallet.models import WalletPass, WalletPassCode
from server.wallet.void_state import PASS_IS_VOID

ALL_CODES = 2**32 - 1  # "every code, whenever issued" in the revocation list


async def revoke_codes(
    db: AsyncSession, member: Member, actor_id: int | None, reason: str
) -> CodeRevocation:
    """Every code issued to ``member`` until now is refused; new codes work again."""
    revocation = CodeRevocation(
        member_id=member.id, revoked_before=utcnow(), reason=reason, revoked_by_id=actor_id
    )
    db.add(revocation)
    await db.flush()
    await invalidate(db, [member.id])  # the card gets a code made after this
    record(
        db,
        actor_id=actor_id,
        action="member.revoke_check_codes",
        entity=revocation,
        member_id=member.id,
        after={"revoked_before": revocation.revoked_before.isoformat()},
        note=reason,
    )
    return revocation


# A member's latest revocation, as a column of a statement over ``Member`` (the live
# check's facts, the card builder's members).
LATEST_REVOCATION = (
    select(func.max(CodeRevocation.revoked_before))
    .where(CodeRevocation.member_id == Member.id)
    .scalar_subquery()
)
_LATEST_OF = (
    select(CodeRevocation.member_id, func.max(CodeRevocation.revoked_before))
    .where(CodeRevocation.member_id.in_(bindparam("ids", expanding=True)))
    .group_by(CodeRevocation.member_id)
)


async def latest_revocations(
    db: AsyncSession, member_ids: Sequence[int]
) -> Mapping[int, dt.datetime]:
    """The latest revocation of each of ``member_ids`` that has one."""
    rows = await db.execute(_LATEST_OF, {"ids": list(member_ids)})
    return {member_id: moment for member_id, moment in rows.all() if moment is not None}


async def latest_revocation(db: AsyncSession, member_id: int) -> dt.datetime | None:
    return (
        await db.execute(
            select(func.max(CodeRevocation.revoked_before)).where(
                CodeRevocation.member_id == member_id
            )
        )
    ).scalar_one_or_none()


async def revocations_of(db: AsyncSession, member_id: int) -> list[CodeRevocation]:
    return list(
        (
            await db.execute(
                select(CodeRevocation)
                .where(CodeRevocation.member_id == member_id)
                .order_by(CodeRevocation.id.desc())
            )
        ).scalars()
    )


async def revocation_list(db: AsyncSession) -> list[dict[str, Any]]:
    """What offline scanners refuse: ``{"p": public id, "before": unix s, "result": key}``,
    with ``"voided": [[issued, valid until], …]`` (unix s) for the codes of the
    member's voided wallet passes.

    Revoked codes (issued before the latest revocation), voided passes' codes, and every
    code of deactivated or deleted members. Three set-based queries.
    """
    entries: dict[str, dict[str, Any]] = {}
    revoked = await db.execute(
        select(Member.public_id, func.max(CodeRevocation.revoked_before))
        .join(CodeRevocation, CodeRevocation.member_id == Member.id)
        .group_by(Member.public_id)
    )
    for public_id, before in revoked:
        entries[public_id] = {
            "p": public_id,
            "before": int(before.timestamp()),
            "result": "revoked",
        }
    # Wallet passes that were voided (or whose card link went: ``PASS_IS_VOID``): exactly
    # their codes (none a live pass shows) — the code a pass shows and those it showed
    # before that are still valid (a phone offline since shows them).
    shown: list[Any] = list(
        await db.execute(
            union_all(
                select(Member.public_id, WalletPass.check_code, PASS_IS_VOID)
                .join(WalletPass, WalletPass.member_id == Member.id)
                .where(WalletPass.check_code.is_not(None)),
                select(Member.public_id, WalletPassCode.code, PASS_IS_VOID)
                .join(WalletPassCode, WalletPassCode.member_id == Member.id)
                .join(WalletPass, WalletPass.id == WalletPassCode.pass_id)
                .where(WalletPassCode.valid_until > utcnow()),
            )
        )
    )
    voided: dict[str, set[str]] = {}
    live: set[str] = set()
    for public_id, code, void in shown:
        if code is None:
            continue
        if not void:
            live.add(code)
        else:
            voided.setdefault(public_id, set()).add(code)
    for public_id, texts in voided.items():
        found = sorted(filter(None, (codes.times(t) for t in texts - live)))
        if found:
            entry = entries.setdefault(
                public_id, {"p": public_id, "before": 0, "result": "revoked"}
            )
            entry["voided"] = [list(t) for t in found]
    gone = await db.execute(
        select(Member.public_id, Member.deleted_at).where(
            or_(Member.status == "deactivated", Member.deleted_at.is_not(None))
        )
    )
    for public_id, deleted_at in gone:
        entries[public_id] = {
            "p": public_id,
            "before": ALL_CODES,
            "result": "unknown" if deleted_at is not None else "deactivated",
        }
    return sorted(entries.values(), key=lambda e: e["p"])
