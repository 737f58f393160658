"""The wallet's background work inside ``serve``: keep passes current, deliver updates.

Every ``POLL_SECONDS`` (when a wallet is configured and background jobs are on): find
live passes whose card changed, whose link was revoked or whose day turned
(``refresh.stale_passes``, a chunk at a time) and bring them up to date — which queues
the pushes and Google updates — then send what is due (``delivery.deliver_once``).
Started and stopped by the app's lifespan (``server.app.open_resources``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import clock
from server.config import Settings
from server.wallet.delivery import Report, Senders, deliver_once
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

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def run_once(self) -> Report:
        await sweep_once(self.sessionmaker, self.settings)
        return await deliver_once(self.sessionmaker, self.settings, self.senders)

    async def _run(self) -> None:
        while True:
            try:
                report = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("wallet round failed; trying again shortly")
                report = Report()
            if report.done == 0:
                await asyncio.sleep(POLL_SECONDS)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.senders.close()
