"""Rows of work claimed under a lease: the mail outbox and the wallet's deliveries.

A row waits as ``queued`` until it is due (``next_attempt_at``). A worker claims a batch
of due rows — and rows whose lease ran out, a worker that died mid-batch — in one
statement, setting ``sending``, ``claimed_by`` and ``claimed_until``; it records each
outcome as it comes, only while the claim is still its own. A model used here has the
columns ``id``, ``status``, ``next_attempt_at``, ``claimed_by``, ``claimed_until``,
``attempts``, ``last_error`` and ``sent_at``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

LEASE = dt.timedelta(minutes=5)
MAX_BACKOFF = dt.timedelta(minutes=30)  # between tries of one row refused for now
ERROR_CHARS = 2000


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min … capped at ``MAX_BACKOFF``."""
    return min(dt.timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{id(asyncio.get_running_loop()):x}"


async def claim(
    db: AsyncSession, model: Any, worker: str, now: dt.datetime, limit: int
) -> list[int]:
    """Claim up to ``limit`` due rows of ``model`` for ``worker``; their ids, committed."""
    due = (
        select(model.id)
        .where(
            or_(
                and_(model.status == "queued", model.next_attempt_at <= now),
                and_(model.status == "sending", model.claimed_until < now),
            )
        )
        .order_by(model.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # SQLite renders no FOR UPDATE: there the single UPDATE runs under the writer lock.
    result = await db.execute(
        update(model)
        .where(model.id.in_(due.scalar_subquery()))
        .values(status="sending", claimed_by=worker, claimed_until=now + LEASE)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    ids = sorted(result.scalars())
    await db.commit()
    return ids


async def renew(
    db: AsyncSession, model: Any, worker: str, ids: list[int], now: dt.datetime
) -> set[int]:
    """Extend ``worker``'s claim on ``ids`` by another ``LEASE``; the ids still its own.

    A worker calls it between the rows of its batch, so that a batch outlasting one
    lease (a slow server) keeps its rows. A row missing from the answer was taken over
    by another worker after the claim ran out (or settled by it): it is not this
    worker's to send any more. Runs in the caller's transaction."""
    if not ids:
        return set()
    result = await db.execute(
        update(model)
        .where(model.id.in_(ids), model.claimed_by == worker, model.status == "sending")
        .values(claimed_until=now + LEASE)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


def settled(
    kind: str, reason: str, attempts: int, now: dt.datetime, *, final: frozenset[str]
) -> dict[str, Any]:
    """The values that record one attempt's outcome: ``sent``; a ``final`` kind kept as
    the row's status; anything else queued again after ``backoff``."""
    values: dict[str, Any] = {"attempts": attempts, "claimed_by": None, "claimed_until": None}
    if kind == "sent":
        return values | {"status": "sent", "sent_at": now, "last_error": ""}
    if kind in final:
        return values | {"status": kind, "last_error": reason[:ERROR_CHARS]}
    return values | {
        "status": "queued",
        "last_error": reason[:ERROR_CHARS],
        "next_attempt_at": now + backoff(attempts),
    }
