"""The figures ``/metrics`` reads from the database when it is scraped."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.models import CardPayload
from server.mail.models import OutboxMessage
from server.nightly.models import NightlyJobRun
from server.wallet.models import WalletDelivery


@dataclass
class Figures:
    # queued (waiting, no error yet), failing (waiting, last try went wrong),
    # sending (claimed by a delivery loop), failed (permanently refused)
    outbox: dict[str, int] = field(default_factory=dict)
    oldest_queued_age: float = 0.0
    nightly_last_success: dict[str, float] = field(default_factory=dict)
    # Stored card payloads that must be computed again before they are served.
    stale_cards: int = 0
    # Wallet pushes and Google API updates not done: queued, failing, sending, failed.
    wallet: dict[str, int] = field(default_factory=dict)


async def gather(db: AsyncSession, now: dt.datetime) -> Figures:
    figures = Figures(outbox={"queued": 0, "failing": 0, "sending": 0, "failed": 0})
    rows = await db.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.status.in_(("queued", "sending", "failed")))
        .group_by(OutboxMessage.status)
    )
    for status, count in rows:
        figures.outbox[status] += count
    failing = await db.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == "queued", OutboxMessage.last_error != "")
    )
    figures.outbox["failing"] = failing or 0
    figures.outbox["queued"] -= figures.outbox["failing"]
    oldest = await db.scalar(
        select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status.in_(("queued", "sending"))
        )
    )
    if oldest is not None:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.UTC)
        figures.oldest_queued_age = max((now - oldest).total_seconds(), 0.0)
    runs = await db.execute(
        select(NightlyJobRun.job, func.max(NightlyJobRun.finished_at))
        .where(NightlyJobRun.status == "succeeded")
        .group_by(NightlyJobRun.job)
    )
    for job, finished in runs:
        if finished is not None:
            if finished.tzinfo is None:
                finished = finished.replace(tzinfo=dt.UTC)
            figures.nightly_last_success[job] = finished.timestamp()
    figures.wallet = {"queued": 0, "failing": 0, "sending": 0, "failed": 0}
    rows = await db.execute(
        select(WalletDelivery.status, func.count())
        .where(WalletDelivery.status.in_(("queued", "sending", "failed")))
        .group_by(WalletDelivery.status)
    )
    for status, count in rows:
        figures.wallet[status] += count
    figures.wallet["failing"] = (
        await db.scalar(
            select(func.count())
            .select_from(WalletDelivery)
            .where(WalletDelivery.status == "queued", WalletDelivery.last_error != "")
        )
        or 0
    )
    figures.wallet["queued"] -= figures.wallet["failing"]
    figures.stale_cards = (
        await db.scalar(
            select(func.count())
            .select_from(CardPayload)
            .where(or_(CardPayload.body.is_(None), CardPayload.valid_until < int(now.timestamp())))
        )
        or 0
    )
    return figures
