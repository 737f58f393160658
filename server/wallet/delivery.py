"""The wallet outbox: APNs pushes and Google API updates, queued and retried.

``queue_updates`` runs in the transaction that changed or voided passes: one queued
row per Apple device registered for the pass (``apns``) and one per Google pass
(``google``), only for a wallet whose credentials are configured, and never a second
queued row for the same target (the sender sends what the pass shows when it sends).

``deliver_once`` works like the mail outbox (``server.mail.delivery``): it claims due
rows in one statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one ``UPDATE …
RETURNING`` under SQLite's write lock) with a lease, sends each, and records its
outcome at once in its own short transaction: sent; retried later with backoff (30 s
doubling to 30 min) when the service is unreachable, busy or failing; failed for a
refusal that will not change; dropped when there is nothing to do (APNs says the
device is gone — its registration ends — or the Google object was never saved).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.config import Settings
from server.database import utcnow
from server.db import leases
from server.db.leases import worker_name
from server.wallet.apns import ApnsClient
from server.wallet.google_api import GoogleClient
from server.wallet.google_pass import generic_object
from server.wallet.models import WalletDelivery, WalletDevice, WalletPass
from server.wallet.outcome import Outcome

log = logging.getLogger("tessera.wallet")

BATCH = 50


async def queue_updates(
    db: AsyncSession, settings: Settings, passes: Sequence[WalletPass], now: dt.datetime
) -> int:
    """Queue the pushes and API updates that tell devices about these changed passes."""
    wallet = settings.wallet
    apple_ids = [p.id for p in passes if p.wallet == "apple"] if wallet.apple else []
    google_ids = [p.id for p in passes if p.wallet == "google"] if wallet.google else []
    rows: list[dict[str, Any]] = []
    if apple_ids:
        devices = (
            await db.execute(
                select(WalletDevice.id, WalletDevice.pass_id).where(
                    WalletDevice.pass_id.in_(apple_ids), WalletDevice.ended_at.is_(None)
                )
            )
        ).all()
        waiting = set(
            (
                await db.execute(
                    select(WalletDelivery.device_row_id).where(
                        WalletDelivery.status == "queued",
                        WalletDelivery.device_row_id.in_([d for d, _ in devices]),
                    )
                )
            ).scalars()
        )
        rows += [
            {"kind": "apns", "pass_id": pass_id, "device_row_id": device_id}
            for device_id, pass_id in devices
            if device_id not in waiting
        ]
    if google_ids:
        waiting = set(
            (
                await db.execute(
                    select(WalletDelivery.pass_id).where(
                        WalletDelivery.status == "queued",
                        WalletDelivery.kind == "google",
                        WalletDelivery.pass_id.in_(google_ids),
                    )
                )
            ).scalars()
        )
        rows += [
            {"kind": "google", "pass_id": pass_id, "device_row_id": None}
            for pass_id in google_ids
            if pass_id not in waiting
        ]
    if rows:
        common = {
            "created_at": now,
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": "",
        }
        await db.execute(insert(WalletDelivery), [{**common, **row} for row in rows])
    return len(rows)


@dataclass
class Senders:
    """The clients of the configured wallets (made by the worker, closed at its stop)."""

    apns: ApnsClient | None = None
    google: GoogleClient | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> Senders:
        wallet = settings.wallet
        return cls(
            ApnsClient(wallet.apple) if wallet.apple else None,
            GoogleClient(wallet.google) if wallet.google else None,
        )

    async def close(self) -> None:
        for client in (self.apns, self.google):
            if client is not None:
                await client.close()


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    @property
    def done(self) -> int:
        return sum(self.counts.values())


async def _send(
    db: AsyncSession, settings: Settings, senders: Senders, row: WalletDelivery
) -> Outcome:
    wallet_pass = await db.get(WalletPass, row.pass_id)
    if wallet_pass is None:
        return Outcome("dropped", "the pass is gone")
    if row.kind == "apns":
        device = await db.get(WalletDevice, row.device_row_id) if row.device_row_id else None
        if device is None or device.ended_at is not None:
            return Outcome("dropped", "the device unregistered")
        if senders.apns is None:
            return Outcome("retried", "Apple Wallet is not configured on this server")
        return await senders.apns.push(device.push_token)
    if senders.google is None or settings.wallet.google is None:
        return Outcome("retried", "Google Wallet is not configured on this server")
    resource = generic_object(settings.wallet.google, wallet_pass, settings.base_url)
    return await senders.google.put_object(resource)


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession],
    row: WalletDelivery,
    worker: str,
    outcome: Outcome,
    rest: list[int],
) -> set[int]:
    now = utcnow()
    values = leases.settled(
        outcome.kind, outcome.reason, row.attempts + 1, now, final=frozenset({"failed", "dropped"})
    )
    async with sessionmaker() as db, db.begin():
        await db.execute(
            update(WalletDelivery)
            .where(WalletDelivery.id == row.id, WalletDelivery.claimed_by == worker)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if outcome.device_gone and row.device_row_id is not None:
            await db.execute(
                update(WalletDevice)
                .where(WalletDevice.id == row.device_row_id, WalletDevice.ended_at.is_(None))
                .values(ended_at=now, end_reason=outcome.reason[:200])
                .execution_options(synchronize_session=False)
            )
        return await leases.renew(db, WalletDelivery, worker, rest, now)


async def deliver_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    senders: Senders,
    *,
    now: dt.datetime | None = None,
    worker: str | None = None,
    stopping: asyncio.Event | None = None,
) -> Report:
    """Claim and send one batch of due deliveries; each outcome recorded at once.

    Once ``stopping`` is set (the server shuts down) the delivery in flight finishes
    and is recorded, and the rest of the batch goes back to the queue at once.
    """
    now = now or utcnow()
    worker = worker or worker_name()
    report = Report()
    pending = await leases.claim_rows(sessionmaker, WalletDelivery, worker, now, BATCH)
    try:
        while pending and not (stopping is not None and stopping.is_set()):
            row, rest = pending[0], [r.id for r in pending[1:]]
            kind, ours = await _deliver_one(sessionmaker, settings, senders, row, worker, rest)
            pending = [r for r in pending[1:] if r.id in ours]  # the others were taken over
            report.add(kind)
    finally:
        await leases.release(sessionmaker, WalletDelivery, [r.id for r in pending], worker)
    return report


async def _deliver_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    senders: Senders,
    row: WalletDelivery,
    worker: str,
    rest: list[int],
) -> tuple[str, set[int]]:
    """Send ``row``, record its outcome and renew the claim on the ``rest`` of the batch
    (a slow service never lets a claim run out mid-batch: another worker would send the
    rest again); the outcome and the ids of the rest still claimed by ``worker``."""
    async with sessionmaker() as db:
        outcome = await _send(db, settings, senders, row)
        await db.rollback()  # the read ends; nothing was written here
    ours = await _record(sessionmaker, row, worker, outcome, rest)
    if outcome.kind not in ("sent", "dropped"):
        log.warning("wallet %s delivery %s: %s", row.kind, row.id, outcome.reason)
    return outcome.kind, ours
