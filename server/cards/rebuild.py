"""Rebuilding stale card payloads off the request's critical path.

Two kinds of work, one loop per process (started in the app's lifespan):

1. **On demand.** A request that finds its card stale calls ``await rebuilder.get(id)``.
   Requests arriving while a batch is being built wait for the next one, so a storm of
   stale cards (after midnight, a nightly run, a settings change) is built a batch at a
   time — a fixed number of queries per batch (``server.cards.builder``) — instead of
   once per request. Each request gets a payload built after it asked.
2. **Sweep.** When nobody is waiting, stale payloads of cards with a live link are
   rebuilt in the background at most ``sweep_rate`` cards a second, so after a mass
   invalidation most cards are ready before they are asked for.

Nothing here holds the write lock while building: batches are built in a read
transaction, and a separate storer writes them (``builder.store``) in short write
transactions; a payload invalidated meanwhile is not overwritten. A store that finds
the database busy is dropped — the card is rebuilt at its next request or sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import clock
from server.cards import builder
from server.cards.builder import BuiltPayload
from server.cards.invalidation import CURRENT_EPOCH
from server.cards.models import CardLink, CardPayload
from server.config import Settings
from server.db.busy import is_busy

log = logging.getLogger("tessera.cards")

BATCH = 200  # members per on-demand or sweep batch
STORE_BATCH = 1000  # payloads per write transaction
STORE_BACKLOG = 20_000  # built payloads waiting to be stored before the oldest are dropped
SWEEP_RATE = 400.0  # cards a second, at most
SWEEP_IDLE = 5.0  # seconds between looks for stale cards when none were found
STOP_PATIENCE = 10.0  # seconds the loops get to finish their batch at shutdown


class RebuilderStopped(RuntimeError):
    """The rebuilder is not running (the app's lifespan has not started it)."""


class CardRebuilder:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        sweep: bool = True,
        sweep_rate: float = SWEEP_RATE,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.sweep_enabled = sweep
        self.sweep_rate = sweep_rate
        self._waiting: dict[int, list[asyncio.Future[BuiltPayload | None]]] = {}
        self._demand = asyncio.Event()
        self._to_store: dict[int, BuiltPayload] = {}
        self._store_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.batches = 0  # batches built since start (metrics)
        self.built = 0  # payloads built since start
        self.stored = 0
        self.dropped = 0

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._build_loop(), name="card-rebuilder"),
            loop.create_task(self._store_loop(), name="card-payload-store"),
        ]

    async def stop(self) -> None:
        """Stop building; answer waiting requests; write what was built.

        The loops finish the batch in hand rather than being cancelled in the middle of
        a database call (a cancelled driver call can leave its connection waiting for
        ever); only a loop that does not finish within ``STOP_PATIENCE`` is cancelled.
        """
        self._stopping = True
        self._demand.set()
        self._store_wake.set()
        done, late = await asyncio.wait(self._tasks, timeout=STOP_PATIENCE)
        for task in late:
            task.cancel()
        for task in [*done, *late]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        for futures in self._waiting.values():
            for future in futures:
                if not future.done():
                    future.set_exception(RebuilderStopped("the server is stopping"))
        self._waiting.clear()
        with contextlib.suppress(Exception):
            await self._store_pending()

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    @property
    def backlog(self) -> int:
        """Payloads built and not yet stored (metrics)."""
        return len(self._to_store)

    # --- on demand ---------------------------------------------------------------

    async def get(self, member_id: int) -> BuiltPayload | None:
        """A payload built after this call began (None: the member has no card)."""
        if self._stopping or not self.running:
            raise RebuilderStopped("the card rebuilder is not running")
        future: asyncio.Future[BuiltPayload | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(member_id, []).append(future)
        self._demand.set()
        return await future

    async def _build_loop(self) -> None:
        next_sweep = 0.0
        while not self._stopping:
            self._demand.clear()  # before looking: a request arriving later sets it again
            if self._waiting:
                await self._build_demanded()
                continue
            if self.sweep_enabled and time.monotonic() >= next_sweep:
                swept = await self._sweep_once()
                # Bounded rate: this batch's share of a second; demand always goes first.
                next_sweep = time.monotonic() + (swept / self.sweep_rate if swept else SWEEP_IDLE)
                continue
            timeout = max(0.0, next_sweep - time.monotonic()) if self.sweep_enabled else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._demand.wait(), timeout)

    async def _build_demanded(self) -> None:
        ids = list(self._waiting)[:BATCH]
        futures = {member_id: self._waiting.pop(member_id) for member_id in ids}
        try:
            built = await self._build(ids)
        except Exception as exc:
            if not is_busy(exc):
                log.exception("could not build %d card payloads", len(ids))
            for waiting in futures.values():
                for future in waiting:
                    if not future.done():
                        future.set_exception(exc)
            return
        for member_id, waiting in futures.items():
            for future in waiting:
                if not future.done():
                    future.set_result(built.get(member_id))
        self._queue_store(built.values())

    async def _build(self, ids: list[int]) -> dict[int, BuiltPayload | None]:
        async with self.sessionmaker() as db:
            built = await builder.build_many(db, ids, self.settings, clock.now())
            await db.rollback()  # a read: end the snapshot at once
        self.batches += 1
        self.built += sum(1 for item in built.values() if item is not None)
        return built

    # --- sweep -------------------------------------------------------------------

    async def stale_ids(self, db: AsyncSession, limit: int) -> list[int]:
        """Members with a live card link whose payload is stale."""
        rows = await db.execute(
            select(CardPayload.member_id)
            .join(CardLink, CardLink.live_member_id == CardPayload.member_id)
            .where(
                or_(
                    CardPayload.valid_until <= int(time.time()),
                    CardPayload.epoch < CURRENT_EPOCH,
                )
            )
            .limit(limit)
        )
        return list(rows.scalars())

    async def _sweep_once(self) -> int:
        try:
            async with self.sessionmaker() as db:
                ids = [i for i in await self.stale_ids(db, BATCH) if i not in self._to_store]
                await db.rollback()
            if not ids:
                return 0
            self._queue_store((await self._build(ids)).values())
            return len(ids)
        except Exception as exc:
            if not is_busy(exc):
                log.exception("card sweep failed; trying again later")
            return 0

    # --- storing -----------------------------------------------------------------

    def _queue_store(self, built: Any) -> None:
        for item in built:
            if item is not None:
                self._to_store[item.member_id] = item
        overflow = len(self._to_store) - STORE_BACKLOG
        if overflow > 0:
            for member_id in list(self._to_store)[:overflow]:
                del self._to_store[member_id]
            self.dropped += overflow
        self._store_wake.set()

    async def _store_pending(self) -> None:
        while self._to_store:
            ids = list(self._to_store)[:STORE_BATCH]
            batch = [self._to_store.pop(member_id) for member_id in ids]
            try:
                async with self.sessionmaker() as db:
                    self.stored += await builder.store(db, batch)
                    await db.commit()
            except Exception as exc:
                self.dropped += len(batch)
                if not is_busy(exc):
                    raise
                log.info("card payload store: database busy; %d payloads dropped", len(batch))

    async def _store_loop(self) -> None:
        while not self._stopping:
            await self._store_wake.wait()
            self._store_wake.clear()
            try:
                await self._store_pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not store card payloads")
