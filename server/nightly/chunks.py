"""Nightly work over a large register in short transactions, patient with a busy database.

A job first chooses the rows it will change (a read: no lock), then changes them a
chunk at a time: each chunk is its own write transaction, committed at once, so cards,
checks and officers' saves get the database between chunks. The chunk's work re-checks
its condition on its rows (they may have changed since they were chosen). A chunk that
finds the database busy is rolled back, waited for and run again
(``server.db.busy.retry_when_busy``); what earlier chunks did stays done, and a run
interrupted half-way is finished by the next run, which finds the rest still due.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.busy import retry_when_busy

CHUNK = 1000
PAUSE = 0.01  # seconds between chunks: other writers get the lock in between

ChunkWork = Callable[[AsyncSession, list[int]], Awaitable[int]]


async def in_chunks(
    db: AsyncSession, ids: Sequence[int], work: ChunkWork, *, what: str, size: int = CHUNK
) -> int:
    """Run ``work(db, chunk)`` for ``ids`` a chunk at a time; the sum of what it returns."""
    await db.commit()  # end the read that chose the ids
    done = 0
    for start in range(0, len(ids), size):
        chunk = list(ids[start : start + size])

        async def attempt(chunk: list[int] = chunk) -> int:
            try:
                count = await work(db, chunk)
                await db.commit()
            except BaseException:
                await db.rollback()
                raise
            return count

        done += await retry_when_busy(attempt, what=what)
        await asyncio.sleep(PAUSE)
    return done
