"""Rebuilding stale card payloads off the request's critical path.

Two kinds of work, in a thread of its own (one per process, started in the app's
lifespan), with its own event loop and database engine:

1. **On demand.** A request that finds its card stale calls ``await rebuilder.get(id)``.
   Requests arriving while a batch is being built wait for the next one, so a storm of
   stale cards (after midnight, a nightly run, a settings change) is built a batch at a
   time — a fixed number of queries per batch (``server.cards.builder``) — instead of
   once per request. Each request gets a payload built after it asked.
2. **Sweep.** Stale payloads of cards with a live link are rebuilt in the background,
   in small batches beside the demand loop, at most ``sweep_rate`` cards a second, so
   after a mass invalidation most cards are ready before they are asked for.

Why a thread: a batch is a dozen ORM queries. On the serving loop, busy with thousands
of hot-path requests a second, every round trip to the driver's thread waited its turn
behind them: a batch took 400 ms of waiting for 15 ms of work. On a loop of its own it
waits for nobody, and on SQLite its reads run on that thread itself
(``server.db.lean_sqlite``, inline); the serving loop sees one answer per batch.

Nothing here holds the write lock while building: batches are built in a read
transaction, and a separate storer writes them (``builder.store``) in short write
transactions; a payload invalidated meanwhile is not overwritten. A store that finds
the database busy is dropped — the card is rebuilt at its next request or sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine
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
from server.db.engine import make_engine, make_sessionmaker
from server.db.outage import OutageLog, unreachable

log = logging.getLogger("tessera.cards")

BATCH = 200  # members per on-demand batch (the requests waiting, at most)
DEMAND_BATCHES = 3  # on-demand batches under way at once
SWEEP_BATCH = 25  # members per sweep batch: small, so demand is never kept waiting long
STORE_BATCH = 1000  # payloads per write transaction
STORE_BACKLOG = 20_000  # built payloads waiting to be stored before the oldest are dropped
SWEEP_RATE = 200.0  # cards a second, at most
SWEEP_IDLE = 5.0  # seconds between looks for stale cards when none were found
SWEEP_QUIET = 1.0  # seconds without demand before the sweep goes on: requests first
STOP_PATIENCE = 10.0  # seconds the loops get to finish their batch at shutdown

# (how to answer the request, whether it needs the marshal's view of the member)
Answer = Callable[[Any], None]  # takes the payload (or None) or the exception
Waiter = tuple[Answer, bool]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class RebuilderStopped(RuntimeError):
    """The rebuilder is not running (the app's lifespan has not started it, or it stops)."""


def settle(future: asyncio.Future[BuiltPayload | None], outcome: Any) -> None:
    """On the asking loop: answer the request unless it gave up meanwhile."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def answer_on(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[BuiltPayload | None]
) -> Answer:
    """An answer that settles ``future`` on its own ``loop`` (from any thread)."""

    def answer(outcome: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the asking loop has closed
            loop.call_soon_threadsafe(settle, future, outcome)

    return answer


class CardRebuilder:
    def __init__(
        self, settings: Settings, *, sweep: bool = True, sweep_rate: float = SWEEP_RATE
    ) -> None:
        self.settings = settings
        self.sweep_enabled = sweep
        self.sweep_rate = sweep_rate
        self._thread: threading.Thread | None = None
        self._beside: Callable[[], Coroutine[Any, Any, None]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._stopping = False
        # The rest belongs to the rebuilder's own loop.
        self.sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self._store_sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self._waiting: dict[int, list[Waiter]] = {}
        self._to_store: dict[int, BuiltPayload] = {}
        self._demand: asyncio.Event | None = None
        self._store_wake: asyncio.Event | None = None
        self._stopped: asyncio.Event | None = None
        self._last_demand = 0.0  # monotonic time of the last on-demand batch
        self._sites = builder.SiteSettings()  # the app settings, read again per card epoch
        self.batches = 0  # batches built since start (metrics)
        self.built = 0  # payloads built since start
        self.stored = 0
        self.dropped = 0
        self._outage = OutageLog(log, "card rebuilder")

    # --- lifecycle (called on the serving loop) ----------------------------------

    def start(self, beside: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        """Start the rebuilder's thread; ``beside`` runs on its loop until it stops (a
        child process serves its socket there: ``server.cards.rebuild_process``)."""
        self._beside = beside
        self._thread = threading.Thread(target=self._thread_main, name="card-rebuilder")
        self._thread.daemon = True
        self._thread.start()
        self._started.wait(timeout=30)

    async def stop(self) -> None:
        """Stop building; answer waiting requests; write what was built.

        The loops finish the batch in hand rather than being cancelled in the middle of
        a database call; only a loop that does not finish within ``STOP_PATIENCE`` is
        cancelled.
        """
        await asyncio.to_thread(self.stop_and_wait)

    def stop_and_wait(self) -> None:
        """``stop`` for a caller without an event loop (blocks until stopped)."""
        if self._thread is None or self._loop is None:
            return
        self._stopping = True
        with contextlib.suppress(RuntimeError):  # its loop already closed
            self._loop.call_soon_threadsafe(self._wake_everyone)
        self._thread.join(STOP_PATIENCE + 10)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    @property
    def backlog(self) -> int:
        """Payloads built and not yet stored (metrics)."""
        return len(self._to_store)

    async def get(self, member_id: int, *, check_view: bool = False) -> BuiltPayload | None:
        """A payload built after this call began (None: the member has no card); with
        ``check_view``, also the marshal's view of the member."""
        future: asyncio.Future[BuiltPayload | None] = asyncio.get_running_loop().create_future()
        self.ask(member_id, check_view, answer_on(asyncio.get_running_loop(), future))
        return await future

    def ask(self, member_id: int, check_view: bool, answer: Answer) -> None:
        """From any thread: build ``member_id``'s payload and call ``answer`` with it (on
        the rebuilder's thread)."""
        if not self.running or self._loop is None:
            raise RebuilderStopped("the card rebuilder is not running")
        if _running_loop() is self._loop:  # asked on its own loop: no hop
            self._ask(member_id, (answer, check_view))
        else:
            self._loop.call_soon_threadsafe(self._ask, member_id, (answer, check_view))

    # --- the rebuilder's own loop ------------------------------------------------

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("the card rebuilder stopped")
        finally:
            self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._demand, self._store_wake, self._stopped = (asyncio.Event() for _ in range(3))
        # Builds read on this thread itself (a read waits for no lock); stores, which may
        # wait for the write lock, on the driver's thread, leaving this loop free.
        engine = make_engine(self.settings.database_url, inline=True)
        if engine.dialect.name == "postgresql":
            # Builds only read. At READ COMMITTED every statement of a transaction takes
            # a snapshot of its own anyway, so BEGIN and ROLLBACK buy nothing but two
            # round trips per batch; ``builder.store`` checks generations either way.
            engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        store_engine = make_engine(self.settings.database_url)
        if store_engine.dialect.name == "postgresql":
            # A store is one statement (``builder.store``): it needs no BEGIN and COMMIT
            # of its own, two round trips of three.
            store_engine = store_engine.execution_options(isolation_level="AUTOCOMMIT")
        self.sessionmaker = make_sessionmaker(engine)
        self._store_sessionmaker = make_sessionmaker(store_engine)
        tasks = [asyncio.create_task(self._build_loop()), asyncio.create_task(self._store_loop())]
        if self.sweep_enabled:
            tasks.append(asyncio.create_task(self._sweep_loop()))
        beside = asyncio.create_task(self._beside()) if self._beside is not None else None
        self._started.set()
        try:
            await self._stopped.wait()
            done, late = await asyncio.wait(tasks, timeout=STOP_PATIENCE)
            for task in late:
                task.cancel()
            for task in [*done, *late]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for waiters in self._waiting.values():
                for waiter in waiters:
                    self._answer(waiter, RebuilderStopped("the server is stopping"))
            self._waiting.clear()
            with contextlib.suppress(Exception):
                await self._store_pending()
        finally:
            if beside is not None:
                beside.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await beside
            await engine.dispose()
            await store_engine.dispose()

    def _wake_everyone(self) -> None:
        assert self._stopped and self._demand and self._store_wake
        self._stopped.set()
        self._demand.set()
        self._store_wake.set()

    def _ask(self, member_id: int, waiter: Waiter) -> None:
        if self._stopping:
            self._answer(waiter, RebuilderStopped("the server is stopping"))
            return
        self._waiting.setdefault(member_id, []).append(waiter)
        assert self._demand is not None
        self._demand.set()

    @staticmethod
    def _answer(waiter: Waiter, outcome: Any) -> None:
        waiter[0](outcome)

    async def _build_loop(self) -> None:
        """Batches of the waiting requests, up to ``DEMAND_BATCHES`` at once: requests that
        arrive while one batch waits on the database start the next at once."""
        assert self._demand is not None
        building: set[asyncio.Task[None]] = set()
        demand = self._demand

        def finished(task: asyncio.Task[None]) -> None:
            building.discard(task)
            demand.set()  # room for the next batch

        while not self._stopping:
            demand.clear()  # before looking: a request arriving later sets it again
            if self._waiting and len(building) < DEMAND_BATCHES:
                ids = list(self._waiting)[:BATCH]
                taken = {member_id: self._waiting.pop(member_id) for member_id in ids}
                task = asyncio.create_task(self._build_demanded(taken))
                building.add(task)
                task.add_done_callback(finished)
                continue
            await demand.wait()
        if building:
            await asyncio.wait(building)

    async def _build_demanded(self, waiting: dict[int, list[Waiter]]) -> None:
        self._last_demand = time.monotonic()
        ids = list(waiting)
        views = any(w[1] for waiters in waiting.values() for w in waiters)
        try:
            built = await self._build(ids, check_views=views)
        except Exception as exc:
            if not is_busy(exc):
                self._outage.failed(exc, f"could not build {len(ids)} card payloads")
            for waiters in waiting.values():
                for waiter in waiters:
                    self._answer(waiter, exc)
            return
        for member_id, waiters in waiting.items():
            for waiter in waiters:
                self._answer(waiter, built.get(member_id))
        self._queue_store(built.values())

    async def _build(self, ids: list[int], *, check_views: bool) -> dict[int, BuiltPayload | None]:
        assert self.sessionmaker is not None
        async with self.sessionmaker() as db:
            built = await builder.build_many(
                db, ids, self.settings, clock.now(), check_views=check_views, sites=self._sites
            )
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

    async def _sweep_loop(self) -> None:
        """Small batches at a bounded rate, beside the demand loop (a request never waits
        for a sweep batch to finish); paused while requests are asking for cards, idle
        while nothing is stale."""
        assert self._stopped is not None
        while not self._stopping:
            quiet_for = time.monotonic() - self._last_demand
            if quiet_for < SWEEP_QUIET:  # requests are being served cards: leave them the loop
                swept, pause = 0, SWEEP_QUIET - quiet_for
            else:
                swept = await self._sweep_once()
                pause = swept / self.sweep_rate if swept else SWEEP_IDLE
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), pause)

    async def _sweep_once(self) -> int:
        assert self.sessionmaker is not None
        try:
            async with self.sessionmaker() as db:
                stale = await self.stale_ids(db, SWEEP_BATCH)
                await db.rollback()
            ids = [i for i in stale if i not in self._to_store and i not in self._waiting]
            if not ids:
                self._outage.succeeded()
                return len(stale)
            self._queue_store((await self._build(ids, check_views=False)).values())
            self._outage.succeeded()
            return len(ids)
        except Exception as exc:
            if not is_busy(exc):
                self._outage.failed(exc, "card sweep failed; trying again later")
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
        assert self._store_wake is not None
        self._store_wake.set()

    async def _store_pending(self) -> None:
        assert self._store_sessionmaker is not None
        while self._to_store:
            ids = list(self._to_store)[:STORE_BATCH]
            batch = [self._to_store.pop(member_id) for member_id in ids]
            try:
                async with self._store_sessionmaker() as db:
                    self.stored += await builder.store(db, batch, later=True)
                    await db.commit()
            except Exception as exc:
                self.dropped += len(batch)
                if is_busy(exc):
                    log.info("card payload store: database busy; %d payloads dropped", len(batch))
                elif unreachable(exc) is not None:  # they are built again once it answers
                    self._outage.failed(exc, "could not store card payloads")
                else:
                    raise

    async def _store_loop(self) -> None:
        assert self._store_wake is not None
        while not self._stopping:
            await self._store_wake.wait()
            self._store_wake.clear()
            try:
                await self._store_pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not store card payloads")
