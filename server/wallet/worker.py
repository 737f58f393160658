"""The wallet's background work inside ``serve``: keep passes current, deliver updates.

Every ``POLL_SECONDS`` (when a wallet is configured and background jobs are on): find
live passes whose card changed, whose link was revoked or whose day turned
(``refresh.stale_passes``, a chunk at a time) and bring them up to date — which queues
the pushes and Google updates — then send what is due (``delivery.deliver_once``). On start it hands back the
deliveries that stopped processes of this machine had claimed (``server.db.leases``).
Started and stopped by the app's lifespan (``server.app.open_resources``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import clock
from server.config import Settings
from server.db import leases
from server.db.leases import worker_name
from server.db.outage import OutageLog
from server.wallet.delivery import Report, Senders, deliver_once
from server.wallet.models import WalletDelivery
from server.wallet.refresh import SWEEP_CHUNK, refresh, stale_passes

log = logging.getLogger("tessera.wallet")

POLL_SECONDS = 10.0


async def sweep_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, max_chunks: int = 50
) -> int:
    """Refresh stale passes, a chunk per pair of transactions; returns how many changed."""
    changed = 0
    async with sessionmaker() as db:
        for _ in range(max_chunks):
            now = clock.now()
            ids = await stale_passes(db, now)
            await db.commit()
            if not ids:
                break
            report = await refresh(db, settings, ids, now=now)
            changed += len(report.changed) + len(report.voided)
            if len(ids) < SWEEP_CHUNK:
                break
    return changed


class WalletWorker:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.senders = Senders.for_settings(settings)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def run_once(self) -> Report:
        await sweep_once(self.sessionmaker, self.settings)
        return await deliver_once(
            self.sessionmaker, self.settings, self.senders, stopping=self._stopping
        )

    async def _run(self) -> None:
        outage = OutageLog(log, "wallet")
        try:
            handed_back = await leases.release_orphans(
                self.sessionmaker, WalletDelivery, worker_name()
            )
        except Exception as exc:
            outage.failed(exc, "wallet: could not look for deliveries claimed by stopped processes")
        else:
            if handed_back:
                log.info(
                    "wallet: %d claimed deliveries of a stopped process handed back", handed_back
                )
        while not self._stopping.is_set():
            try:
                report = await self.run_once()
            except Exception as exc:
                outage.failed(exc, "wallet round failed; trying again shortly")
                report = Report()
            else:
                outage.succeeded()
            if report.done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), POLL_SECONDS)

    async def stop(self) -> None:
        """Finish the delivery in flight and hand the rest of its batch back (cancelled
        past ``IN_FLIGHT_GRACE``: the rest then waits out the lease)."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), leases.IN_FLIGHT_GRACE)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self.senders.close()
