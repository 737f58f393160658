"""Sending failed mail again: one message, or every failed one (page and command line).

A retried message is queued and due now, its attempts and last reason kept; the
delivery loop picks it up within seconds. A message that is queued after a passing
problem ("failing") can be pushed to the front the same way. Each retry is audited.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import record
from server.database import utcnow
from server.mail.models import OutboxMessage

RETRYABLE = or_(
    OutboxMessage.status == "failed",
    and_(OutboxMessage.status == "queued", OutboxMessage.last_error != ""),
)


def can_retry(message: OutboxMessage) -> bool:
    return message.status == "failed" or (message.status == "queued" and bool(message.last_error))


async def retry_message(db: AsyncSession, message_id: int, actor_id: int | None) -> bool:
    """Queue one failed (or failing) message to be sent now; False if it is not one."""
    result = await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, RETRYABLE)
        .values(status="queued", next_attempt_at=utcnow(), claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    changed = int(getattr(result, "rowcount", 0) or 0) == 1
    if changed:
        record(
            db,
            actor_id=actor_id,
            action="mail.retry",
            entity_type="outbox",
            entity_id=message_id,
        )
    return changed


async def retry_failed(db: AsyncSession, actor_id: int | None) -> int:
    """Queue every failed message to be sent now; returns how many."""
    result = await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "failed")
        .values(status="queued", next_attempt_at=utcnow(), claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        record(
            db,
            actor_id=actor_id,
            action="mail.retry_failed",
            entity_type="outbox",
            after={"messages": count},
        )
    return count
