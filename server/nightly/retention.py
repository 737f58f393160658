"""The nightly purge of event records older than the retention setting.

Event tables grow with use, not with the register: the check log (a row per check),
sent mail, done wallet updates (APNs pushes and Google API calls: sent, dropped or
refused for good), finished bulk-issue runs and the nightly job records. Rows older than
``event_retention_days`` (an app setting, default 400) are deleted in batches of
``BATCH`` rows, each batch its own short transaction, so the purge never holds the
write lock for long however much there is to delete. The audit log is history and
is never purged; queued and failed mail stays until it is sent or dealt with, and wallet
updates still waiting stay until they are done.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.models import CardIssueJob
from server.checks.models import CheckEntry
from server.db.busy import retry_when_busy
from server.mail.models import OutboxMessage
from server.nightly.chunks import PAUSE
from server.nightly.models import NightlyJobRun
from server.nightly.registry import nightly_job
from server.settings.store import get_setting
from server.wallet.models import WalletDelivery, WalletPassCode

BATCH = 5000


def _cutoff_time(today: dt.date, days: int) -> dt.datetime:
    return dt.datetime.combine(today - dt.timedelta(days=days), dt.time(), tzinfo=dt.UTC)


# table label -> (key columns, the condition on a cutoff moment)
def _targets(cutoff: dt.datetime) -> list[tuple[str, Any, ColumnElement[bool]]]:
    return [
        ("check log", CheckEntry.id, CheckEntry.checked_at < cutoff),
        (
            "sent mail",
            OutboxMessage.id,
            (OutboxMessage.created_at < cutoff) & (OutboxMessage.status == "sent"),
        ),
        (
            "wallet updates",
            WalletDelivery.id,
            (WalletDelivery.created_at < cutoff)
            & WalletDelivery.status.in_(("sent", "dropped", "failed")),
        ),
        (
            "run-out pass codes",
            WalletPassCode.id,
            WalletPassCode.valid_until < cutoff,
        ),
        (
            "bulk-issue runs",
            CardIssueJob.id,
            (CardIssueJob.created_at < cutoff) & (CardIssueJob.state != "running"),
        ),
    ]


async def purge(
    db: AsyncSession, today: dt.date, days: int, *, batch: int = BATCH
) -> dict[str, int]:
    """Delete what is older than ``days``; commits after every batch."""
    cutoff = _cutoff_time(today, days)
    deleted: dict[str, int] = {}
    for label, key, condition in _targets(cutoff):

        async def delete_batch(key: Any = key, condition: ColumnElement[bool] = condition) -> int:
            try:
                ids = list((await db.execute(select(key).where(condition).limit(batch))).scalars())
                if ids:
                    await db.execute(delete(key.class_).where(key.in_(ids)))
                await db.commit()
            except BaseException:
                await db.rollback()
                raise
            return len(ids)

        total = 0
        while True:
            count = await retry_when_busy(delete_batch, what=f"retention: {label}")
            total += count
            if count < batch:
                break
            await asyncio.sleep(PAUSE)  # other writers get the database between batches
        deleted[label] = total
    result = await db.execute(
        delete(NightlyJobRun).where(NightlyJobRun.run_on < today - dt.timedelta(days=days))
    )
    await db.commit()
    deleted["nightly job records"] = int(getattr(result, "rowcount", 0) or 0)
    return deleted


@nightly_job("retention", order=900)
async def retention_job(db: AsyncSession, today: dt.date) -> str:
    days = int(await get_setting(db, "event_retention_days"))
    deleted = await purge(db, today, days)
    parts = ", ".join(f"{n} {label}" for label, n in deleted.items())
    return f"older than {days} days deleted: {parts}"
