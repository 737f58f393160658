"""Submitting, verifying and rejecting membership proofs (in the caller's transaction).

A member's upload is re-encoded like a photo (``images.process_off_loop``, at the larger
``DOCUMENT_MAX_SIDE`` so that the card's number stays legible) and kept; a newer
upload marks a still-pending one ``replaced``. Verifying runs the existing status action
(``members.actions.verify_membership``: number, expiry, status, audit) and marks the
proof verified in the same transaction; rejecting needs a reason, which the member is
emailed. Decided proofs are never changed again: they are the history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from sqlalchemy.orm.exc import StaleDataError

from server.audit.log import record
from server.database import utcnow
from server.mail.outbox import queue_email
from server.members import actions
from server.members.actions import ActionRefused
from server.members.locks import lock_members
from server.members.models import Member
from server.photos import images
from server.proofs.models import PENDING, REJECTED, REPLACED, VERIFIED, MembershipProof
from server.settings.store import load_settings

STALE = "This proof was decided by someone else meanwhile — reload the page."


async def submit_proof(
    db: AsyncSession,
    member: Member,
    *,
    number: str,
    expires_on: dt.date | None,
    image: images.Photo,
) -> MembershipProof:
    """Keep a new proof for the office; an earlier pending one is marked replaced (an
    upload sent twice at once too: the second waits on the member's row, then sees the
    first)."""
    await lock_members(db, [member.id])
    now = utcnow()
    await db.execute(
        update(MembershipProof)
        .where(MembershipProof.member_id == member.id, MembershipProof.status == PENDING)
        .values(status=REPLACED, decided_at=now, version=MembershipProof.version + 1)
        .execution_options(synchronize_session=False)
    )
    proof = MembershipProof(
        member_id=member.id,
        membership_number=number,
        expires_on=expires_on,
        image=image.data,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        submitted_at=now,
    )
    db.add(proof)
    await db.flush()
    record(
        db,
        actor_id=member.id,
        action="membership_proof.submit",
        entity=proof,
        member_id=member.id,
        after={
            "membership_number": number,
            "expires_on": expires_on.isoformat() if expires_on else None,
            "bytes": len(image.data),
        },
    )
    return proof


def _check_pending(proof: MembershipProof, expected_version: int) -> None:
    if proof.version != expected_version:
        raise ActionRefused(STALE)
    if not proof.is_pending:
        raise ActionRefused(f"This proof was already {proof.status}; nothing changed.")


async def _flush(db: AsyncSession) -> None:
    try:
        await db.flush()
    except StaleDataError:
        raise ActionRefused(STALE) from None


async def verify_proof(
    db: AsyncSession,
    proof: MembershipProof,
    member: Member,
    actor: Member,
    *,
    proof_version: int,
    member_version: int,
    number: str,
    expires_on: dt.date | None,
    today: dt.date,
) -> str:
    """Verify the membership (the status action) and mark the proof verified."""
    _check_pending(proof, proof_version)
    message = await actions.verify_membership(
        db,
        member,
        actor,
        expected_version=member_version,
        number=number,
        expires_on=expires_on,
        today=today,
    )
    proof.status = VERIFIED
    proof.decided_by_id = actor.id
    proof.decided_at = utcnow()
    record(
        db,
        actor_id=actor.id,
        action="membership_proof.verify",
        entity=proof,
        member_id=member.id,
        after={"membership_number": member.membership_number},
    )
    await _flush(db)
    return message


async def reject_proof(
    db: AsyncSession,
    proof: MembershipProof,
    member: Member,
    actor: Member,
    *,
    proof_version: int,
    reason: str,
) -> str:
    """Reject with a reason; the member is emailed it. The member's record is unchanged."""
    _check_pending(proof, proof_version)
    reason = reason.strip()
    if not reason:
        raise ActionRefused("Give the reason for rejecting; the member is emailed it.")
    proof.status = REJECTED
    proof.decided_by_id = actor.id
    proof.decided_at = utcnow()
    proof.reject_reason = reason
    record(
        db,
        actor_id=actor.id,
        action="membership_proof.reject",
        entity=proof,
        member_id=member.id,
        note=reason,
    )
    await _flush(db)
    queue_email(
        db,
        to=member.email,
        template="membership_proof_rejected",
        context={"member": member, "proof": proof, "site": await load_settings(db)},
        member_id=member.id,
    )
    return f"The proof of {member.display_name} is rejected; they are emailed the reason."


async def proofs_of(db: AsyncSession, member_id: int, limit: int = 20) -> list[MembershipProof]:
    """A member's proofs, newest first (for /me and the member page; images not needed)."""
    return list(
        (
            await db.execute(
                select(MembershipProof)
                .where(MembershipProof.member_id == member_id)
                .options(defer(MembershipProof.image))
                .order_by(MembershipProof.submitted_at.desc(), MembershipProof.id.desc())
                .limit(limit)
            )
        ).scalars()
    )


async def pending_count(db: AsyncSession, excluding: Collection[int] = ()) -> int:
    """Proofs waiting for the office (the status index answers it), but those of the
    members in ``excluding`` (accounts the asking officer may not act on)."""
    query = (
        select(func.count()).select_from(MembershipProof).where(MembershipProof.status == PENDING)
    )
    if excluding:
        query = query.where(MembershipProof.member_id.not_in(sorted(excluding)))
    count = await db.scalar(query)
    return int(count or 0)
