"""The card rebuilder in a process of its own: rebuilds on a core the server does not use.

A serving process runs Python on one core at a time (the GIL). In a thread beside the
event loop (``server.cards.rebuild``) every card rebuilt took its CPU from the requests
being served: after midnight, with every card stale, card and scanner requests waited
for batches that crawled at half speed, and the hot paths slowed too. Here the same
``CardRebuilder`` runs in a child process (``CARD_REBUILDER=process``, the default) and
the server talks to it over a pipe:

1. ``get(member_id)`` sends ``(ASK, request id, member id, check view?)`` and awaits a
   future; a reader thread settles it when ``(ANSWER, request id, outcome)`` arrives.
   An outcome is the ``BuiltPayload`` (or None), or a failure: a busy database comes
   back as one (503, as everywhere), anything else as a plain error. A request that has
   no answer after ``ANSWER_PATIENCE`` (a child that hangs) answers 503 too.
2. Every second the child reports its counts (metrics), unasked.
3. ``stop`` sends ``STOP``: the child finishes its batches, stores what it built and
   exits; past ``STOP_PATIENCE`` it is terminated (at once if it has not reported
   ``READY`` yet: it has built nothing). Requests still waiting get
   ``RebuilderStopped`` (503).
4. A child that dies (killed, out of memory) fails the requests waiting on it with
   ``RebuilderStopped`` and is started again, at most once every ``RESTART_PAUSE``.

The child is spawned (a fresh interpreter: nothing of the server's threads or
connections is inherited); it installs the plugins found under ``server/plugins/`` as
the app does, and ignores SIGINT and SIGTERM (a Ctrl-C in a terminal reaches the whole
process group, ``systemctl stop`` every process of the service; the server stops it in
order, after the requests in progress, and kills it if it must). If the server dies, the child reads the end of
the pipe and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import multiprocessing
import signal
import sqlite3
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from server.cards.builder import BuiltPayload
from server.cards.rebuild import SWEEP_RATE, Answer, CardRebuilder, RebuilderStopped, answer_on
from server.config import Settings
from server.db.busy import is_busy
from server.db.outage import DatabaseUnreachable, unreachable
from server.wallet.config import WalletConfig

log = logging.getLogger("tessera.cards")

ASK, ANSWER, COUNTS, READY, STOP = "ask", "answer", "counts", "ready", "stop"
STOP_PATIENCE = 25.0  # seconds for the child to finish and store its batches
RESTART_PAUSE = 5.0  # seconds between restarts of a child that died
COUNTS_EVERY = 1.0
ANSWER_PATIENCE = 20.0  # seconds a request waits for its card before it answers 503


class RebuilderProcess:
    """``CardRebuilder``'s interface, served by a child process."""

    def __init__(
        self, settings: Settings, *, sweep: bool = True, sweep_rate: float = SWEEP_RATE
    ) -> None:
        self.settings = settings
        self.sweep = sweep
        self.sweep_rate = sweep_rate
        self.batches = self.built = self.stored = self.dropped = self.backlog = 0
        self._process: Any = None
        self._pipe: Connection | None = None
        self._send_lock = threading.Lock()
        self._waiting: dict[int, Answer] = {}  # request id -> how to answer it
        self._ids = itertools.count()
        self._stopping = False
        self._last_start = 0.0
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()  # the child has started its rebuilder

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        mine, theirs = context.Pipe()
        # Cards need no wallet credentials (loaded keys and certificates, which do not
        # cross a process boundary): the child builds cards, not passes.
        settings = dataclasses.replace(self.settings, wallet=WalletConfig())
        process = context.Process(
            target=_child_main,
            args=(settings, theirs, self.sweep, self.sweep_rate),
            name="tessera-card-rebuilder",
            daemon=True,
        )
        self._last_start = time.monotonic()
        self._ready.clear()
        process.start()
        theirs.close()
        # No waiting for the child to be ready (a second or two to import the server):
        # requests sent meanwhile wait in the pipe.
        self._process, self._pipe = process, mine
        self._reader = threading.Thread(
            target=self._read, args=(mine, process), name="card-rebuilder-pipe", daemon=True
        )
        self._reader.start()

    async def stop(self) -> None:
        self._stopping = True
        process, pipe = self._process, self._pipe
        if process is None or pipe is None:
            return
        if not self._ready.is_set():  # still starting: it has built nothing, stop it now
            process.kill()
        with contextlib.suppress(OSError, ValueError):
            self._send((STOP,))
        await asyncio.to_thread(process.join, STOP_PATIENCE)
        if process.is_alive():
            log.warning("the card rebuilder process did not stop in time; terminating it")
            process.kill()
            await asyncio.to_thread(process.join, 5)
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 5)
        self._fail_waiting()
        self._process = self._pipe = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive() and not self._stopping

    # --- requests ----------------------------------------------------------------

    async def get(self, member_id: int, *, check_view: bool = False) -> BuiltPayload | None:
        if not self.running:
            raise RebuilderStopped("the card rebuilder is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[BuiltPayload | None] = loop.create_future()
        request = next(self._ids)
        self._waiting[request] = answer_on(loop, future)
        try:
            self._send((ASK, request, member_id, check_view))
            return await asyncio.wait_for(future, ANSWER_PATIENCE)
        except (OSError, ValueError):
            raise RebuilderStopped("the card rebuilder is not running") from None
        except TimeoutError:  # a child that hangs: the request gets a 503, not a wait
            raise sqlite3.OperationalError("database is locked (no card rebuilt in time)") from None
        finally:
            self._waiting.pop(request, None)

    def _send(self, message: tuple[Any, ...]) -> None:
        assert self._pipe is not None
        with self._send_lock:
            self._pipe.send(message)

    # --- the reader thread -------------------------------------------------------

    def _read(self, pipe: Connection, process: Any) -> None:
        while True:
            try:
                message = pipe.recv()
            except (EOFError, OSError):
                break
            kind = message[0]
            if kind == ANSWER:
                answer = self._waiting.pop(message[1], None)
                if answer is not None:
                    answer(message[2])
            elif kind == READY:
                self._ready.set()
            elif kind == COUNTS:
                self.batches, self.built, self.stored, self.dropped, self.backlog = message[1:]
        pipe.close()
        self._fail_waiting()
        if not self._stopping:
            self._restart(process)

    def _fail_waiting(self) -> None:
        for request in list(self._waiting):
            answer = self._waiting.pop(request, None)
            if answer is not None:
                answer(RebuilderStopped("the card rebuilder stopped"))

    def _restart(self, process: Any) -> None:
        process.join(1)
        # Ctrl-C or ``systemctl stop`` reach a child still starting (before it ignores
        # them) at the moment they reach its server: the pause tells a stop from a crash.
        time.sleep(max(0.0, RESTART_PAUSE - (time.monotonic() - self._last_start)))
        if self._stopping:
            return
        log.error(
            "the card rebuilder process ended (exit code %s); starting it again", process.exitcode
        )
        try:
            self.start()
        except Exception:
            log.exception("could not start the card rebuilder process again")


# --- the child process -----------------------------------------------------------


def _portable(error: BaseException) -> BaseException:
    """The child's failure as the server can unpickle and answer it: busy (503 with
    ``Retry-After``, ``server.web.errors``), the database unreachable (503), stopping
    (503), or any other error (500)."""
    if is_busy(error):
        return sqlite3.OperationalError("database is locked (rebuilding a card)")
    reason = unreachable(error)
    if reason is not None:
        return DatabaseUnreachable(f"the card rebuilder cannot reach the database ({reason})")
    if isinstance(error, RebuilderStopped):
        return RebuilderStopped(str(error))
    return RuntimeError(f"card rebuild failed: {error!r}"[:500])


def _child_main(settings: Settings, pipe: Connection, sweep: bool, sweep_rate: float) -> None:
    # Ctrl-C in a terminal and ``systemctl stop`` (SIGTERM to every process of the
    # service) reach the child too. It stops when its server says so (or is gone), so
    # that the requests the server finishes while stopping still get their cards.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from server import logs
    from server.plugins import registry

    logs.configure()
    registry.discover()
    rebuilder = CardRebuilder(settings, sweep=sweep, sweep_rate=sweep_rate)
    rebuilder.start()
    lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with lock, contextlib.suppress(OSError, ValueError):
            pipe.send(message)

    def answer_to(request: int) -> Answer:
        def answer(outcome: Any) -> None:
            if isinstance(outcome, BaseException):
                outcome = _portable(outcome)
            send((ANSWER, request, outcome))

        return answer

    send((READY,))
    try:
        while True:
            try:
                if not pipe.poll(COUNTS_EVERY):
                    r = rebuilder
                    send((COUNTS, r.batches, r.built, r.stored, r.dropped, r.backlog))
                    continue
                message = pipe.recv()
            except (EOFError, OSError):
                break  # the server is gone
            if message[0] == STOP:
                break
            _, request, member_id, check_view = message
            try:
                rebuilder.ask(member_id, check_view, answer_to(request))
            except RebuilderStopped as exc:
                answer_to(request)(exc)
    finally:
        rebuilder.stop_and_wait()
