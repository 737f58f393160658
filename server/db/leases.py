"""Rows of work claimed under a lease: the mail outbox and the wallet's deliveries.

A row waits as ``queued`` until it is due (``next_attempt_at``). A worker claims a batch
of due rows — and rows whose lease ran out, a worker that died mid-batch — in one
statement, setting ``sending``, ``claimed_by`` and ``claimed_until``; it records each
outcome as it comes, only while the claim is still its own. A worker that stops lets
the row in flight finish (``finish``) and gives the rest back at once (``release``); a
worker that starts gives back what stopped processes of its machine had claimed
(``release_orphans``) instead of leaving it to the lease. A model used here has the
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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

LEASE = dt.timedelta(minutes=5)
IN_FLIGHT_GRACE = 45.0  # seconds a stopping worker waits for the row in flight
MAX_BACKOFF = dt.timedelta(minutes=30)  # between tries of one row refused for now
ERROR_CHARS = 2000


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min … capped at ``MAX_BACKOFF``. The exponent stops growing once
    past the cap: a row refused for a day (attempt 43 on) made ``timedelta`` overflow,
    its outcome was never recorded, and every round that claimed it failed."""
    return min(dt.timedelta(seconds=30 * 2 ** min(max(attempts - 1, 0), 16)), MAX_BACKOFF)


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


async def claim_rows(
    sessionmaker: async_sessionmaker[AsyncSession],
    model: Any,
    worker: str,
    now: dt.datetime,
    limit: int,
) -> list[Any]:
    """``claim``, then the claimed rows loaded in id order (detached: their session is
    closed, their columns loaded)."""
    async with sessionmaker() as db:
        ids = await claim(db, model, worker, now, limit)
        if not ids:
            return []
        rows = await db.execute(select(model).where(model.id.in_(ids)).order_by(model.id))
        return list(rows.scalars())


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


async def finish(task: asyncio.Future[Any], grace: float = IN_FLIGHT_GRACE) -> None:
    """Let a shielded task run to its end (bounded), even while we are being cancelled."""
    await asyncio.wait({task}, timeout=grace)


async def release(
    sessionmaker: async_sessionmaker[AsyncSession],
    model: Any,
    ids: list[int],
    worker: str,
    reason: str = "",
) -> None:
    """Give claimed rows back untried: queued, due as they were, ``reason`` noted."""
    if not ids:
        return
    values: dict[str, Any] = {"status": "queued", "claimed_by": None, "claimed_until": None}
    if reason:
        values["last_error"] = reason[:ERROR_CHARS]
    async with sessionmaker() as db, db.begin():
        await db.execute(
            update(model)
            .where(model.id.in_(ids), model.claimed_by == worker, model.status == "sending")
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's process: alive
        return False
    return False


async def release_orphans(
    sessionmaker: async_sessionmaker[AsyncSession], model: Any, worker: str
) -> int:
    """Hand back at once the rows claimed by workers of this machine whose process is
    gone (a ``kill -9``, a crash): without this the rest of their batch waits out the
    lease. The row such a process had in flight may be sent again (at most one per
    process, as after the lease). Claims of other machines, of live processes and of
    this process itself are left alone (a reused pid just waits for the lease)."""
    host, own_pid, _ = worker.split(":", 2)
    async with sessionmaker() as db:
        claimants = (
            await db.execute(
                select(model.claimed_by)
                .where(model.status == "sending", model.claimed_by.like(f"{host}:%"))
                .distinct()
            )
        ).scalars()
        gone = []
        for claimant in claimants:
            parts = (claimant or "").split(":")
            ours = len(parts) == 3 and parts[0] == host and parts[1].isdigit()
            if ours and parts[1] != own_pid and process_gone(int(parts[1])):
                gone.append(claimant)
        await db.rollback()
    if not gone:
        return 0
    async with sessionmaker() as db, db.begin():
        result = await db.execute(
            update(model)
            .where(model.status == "sending", model.claimed_by.in_(gone))
            .values(status="queued", claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
    return int(getattr(result, "rowcount", 0) or 0)
