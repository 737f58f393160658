"""Update tags: a number per pass change that only grows, whatever the clocks say.

Apple devices ask "which of my passes changed since tag T?". A change takes its tag
after locking the pass's row: the larger of now (in microseconds) and one more than
the largest tag given so far. So a tag is never smaller than one a device has already
been told about: a change that waited for a device's read (``locked_passes``) comes
after it, and a change the read waited for is seen by it. On SQLite the write lock
orders every change the same way.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.wallet.models import WalletPass


def micros(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


async def next_tag(db: AsyncSession, now: dt.datetime) -> int:
    """The tag for a change, taken after the changed rows are locked."""
    largest = (await db.execute(select(func.max(WalletPass.tag)))).scalar_one_or_none() or 0
    return max(micros(now), int(largest) + 1)


def next_modified(previous: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """``updated_at`` for a change: whole seconds (HTTP's ``Last-Modified`` has no more),
    and always later than the previous one, so ``If-Modified-Since`` never hides a change."""
    candidate = now.replace(microsecond=0)
    if previous is not None and candidate <= previous:
        candidate = previous.replace(microsecond=0) + dt.timedelta(seconds=1)
    return candidate
