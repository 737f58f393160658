"""The card rebuilder in a process of its own: rebuilds on a core the server does not use.

A serving process runs Python on one core at a time (the GIL). In a thread beside the
event loop (``server.cards.rebuild``) every card rebuilt took its CPU from the requests
being served: after midnight, with every card stale, card and scanner requests waited
for batches that crawled at half speed, and the hot paths slowed too. Here the same
``CardRebuilder`` runs in a child process (``CARD_REBUILDER=process``, the default) and
the server talks to it over a socket pair, each side on its event loop: a message is a
pickled tuple behind its length, read and written by the loop that acts on it (no
thread hands it over: on a loaded machine each hand-over waited for a core of its own).

1. ``get(member_id)`` writes ``(ASK, request id, member id, check view?)`` and awaits a
   future; the server's reading task settles it when ``(ANSWER, request id, outcome)``
   arrives. An outcome is the ``BuiltPayload`` (or None), or a failure: a busy database
   comes back as one (503, as everywhere), anything else as a plain error. A request
   that has no answer after ``ANSWER_PATIENCE`` (a child that hangs) answers 503 too.
2. Every second the child reports its counts (metrics), unasked.
3. ``stop`` writes ``STOP``: the child finishes its batches, stores what it built and
   exits; past ``STOP_PATIENCE`` it is terminated (at once if it has not reported
   ``READY`` yet: it has built nothing). Requests still waiting get
   ``RebuilderStopped`` (503).
4. A child that dies (killed, out of memory) closes its end of the socket: the requests
   waiting on it get ``RebuilderStopped`` and it is started again, at most once every
   ``RESTART_PAUSE``.

The child is spawned (a fresh interpreter: nothing of the server's threads or
connections is inherited); it installs the plugins found under ``server/plugins/`` as
the app does, serves the socket on its rebuilder's own loop (``CardRebuilder.start``'s
``beside``), and ignores SIGINT and SIGTERM (a Ctrl-C in a terminal reaches the whole
process group, ``systemctl stop`` every process of the service; the server stops it in
order, after the requests in progress, and kills it if it must). If the server dies,
the child reads the end of the socket and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import multiprocessing
import pickle
import signal
import socket
import sqlite3
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from server.cards.builder import BuiltPayload
from server.cards.rebuild import SWEEP_RATE, CardRebuilder, RebuilderStopped, settle
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
_LENGTH = struct.Struct("!I")
# What ends a conversation: the other side closed its end (or died).
_GONE = (asyncio.IncompleteReadError, ConnectionError, OSError)


def _frame(message: tuple[Any, ...]) -> bytes:
    body = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


async def _receive(reader: asyncio.StreamReader) -> tuple[Any, ...]:
    (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    message: tuple[Any, ...] = pickle.loads(await reader.readexactly(size))
    return message


class RebuilderProcess:
    """``CardRebuilder``'s interface, served by a child process (started and used on
    the serving loop)."""

    def __init__(
        self, settings: Settings, *, sweep: bool = True, sweep_rate: float = SWEEP_RATE
    ) -> None:
        self.settings = settings
        self.sweep = sweep
        self.sweep_rate = sweep_rate
        self.batches = self.built = self.stored = self.dropped = self.backlog = 0
        self._process: Any = None
        self._connected: asyncio.Future[asyncio.StreamWriter] | None = None
        self._reading: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[BuiltPayload | None]] = {}  # by request id
        self._ids = itertools.count()
        self._stopping = False
        self._last_start = 0.0
        self._ready = threading.Event()  # the child has started its rebuilder

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("spawn")
        mine, theirs = socket.socketpair()
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
        # requests sent meanwhile wait in the socket.
        self._process = process
        self._connected = loop.create_future()
        self._reading = loop.create_task(self._read(mine, process, self._connected))

    async def stop(self) -> None:
        self._stopping = True
        process, connected = self._process, self._connected
        if process is None or connected is None:
            return
        if not self._ready.is_set():  # still starting: it has built nothing, stop it now
            process.kill()
        if connected.done() and not connected.exception():
            writer = connected.result()
            if not writer.is_closing():
                writer.write(_frame((STOP,)))
        await asyncio.to_thread(process.join, STOP_PATIENCE)
        if process.is_alive():
            log.warning("the card rebuilder process did not stop in time; terminating it")
            process.kill()
            await asyncio.to_thread(process.join, 5)
        if self._reading is not None:  # it ends as the child's end of the socket closes
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reading, 5)
        self._fail_waiting()
        self._process = self._connected = self._reading = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive() and not self._stopping

    # --- requests ----------------------------------------------------------------

    async def get(self, member_id: int, *, check_view: bool = False) -> BuiltPayload | None:
        if not self.running or self._connected is None:
            raise RebuilderStopped("the card rebuilder is not running")
        writer = await self._connected
        if writer.is_closing():
            raise RebuilderStopped("the card rebuilder is not running")
        future: asyncio.Future[BuiltPayload | None] = asyncio.get_running_loop().create_future()
        request = next(self._ids)
        self._waiting[request] = future
        try:
            writer.write(_frame((ASK, request, member_id, check_view)))
            return await asyncio.wait_for(future, ANSWER_PATIENCE)
        except TimeoutError:  # a child that hangs: the request gets a 503, not a wait
            raise sqlite3.OperationalError("database is locked (no card rebuilt in time)") from None
        finally:
            self._waiting.pop(request, None)

    # --- the reading task --------------------------------------------------------

    async def _read(
        self,
        sock: socket.socket,
        process: Any,
        connected: asyncio.Future[asyncio.StreamWriter],
    ) -> None:
        try:
            reader, writer = await asyncio.open_connection(sock=sock)
        except OSError as exc:
            sock.close()
            connected.set_exception(RebuilderStopped(f"no connection to the card rebuilder: {exc}"))
            return
        connected.set_result(writer)
        try:
            while True:
                message = await _receive(reader)
                kind = message[0]
                if kind == ANSWER:
                    future = self._waiting.pop(message[1], None)
                    if future is not None:
                        settle(future, message[2])
                elif kind == READY:
                    self._ready.set()
                elif kind == COUNTS:
                    self.batches, self.built, self.stored, self.dropped, self.backlog = message[1:]
        except _GONE:
            pass
        finally:
            writer.close()
            self._fail_waiting()
        if not self._stopping:
            await self._restart(process)

    def _fail_waiting(self) -> None:
        for request in list(self._waiting):
            future = self._waiting.pop(request, None)
            if future is not None:
                settle(future, RebuilderStopped("the card rebuilder stopped"))

    async def _restart(self, process: Any) -> None:
        await asyncio.to_thread(process.join, 1)
        # Ctrl-C or ``systemctl stop`` reach a child still starting (before it ignores
        # them) at the moment they reach its server: the pause tells a stop from a crash.
        await asyncio.sleep(max(0.0, RESTART_PAUSE - (time.monotonic() - self._last_start)))
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


def _child_main(settings: Settings, sock: socket.socket, sweep: bool, sweep_rate: float) -> None:
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
    ended = threading.Event()  # STOP arrived, or the server is gone
    rebuilder.start(beside=lambda: _serve(rebuilder, sock, ended.set))
    try:
        while not ended.wait(COUNTS_EVERY):
            if not rebuilder.running:  # its loop failed (logged): nothing to serve with
                break
    finally:
        rebuilder.stop_and_wait()


async def _serve(rebuilder: CardRebuilder, sock: socket.socket, ended: Callable[[], None]) -> None:
    """On the rebuilder's loop: read the server's requests and answer them, until
    ``STOP`` or the server's end; then keep answering (the requests answered while the
    rebuilder stops) until the rebuilder cancels this, as it stops."""
    reader, writer = await asyncio.open_connection(sock=sock)

    def send(message: tuple[Any, ...]) -> None:
        if not writer.is_closing():
            writer.write(_frame(message))

    def answer_to(request: int) -> Callable[[Any], None]:
        def answer(outcome: Any) -> None:
            if isinstance(outcome, BaseException):
                outcome = _portable(outcome)
            send((ANSWER, request, outcome))

        return answer

    async def report_counts() -> None:
        while True:
            await asyncio.sleep(COUNTS_EVERY)
            r = rebuilder
            send((COUNTS, r.batches, r.built, r.stored, r.dropped, r.backlog))

    counts = asyncio.create_task(report_counts())
    send((READY,))
    try:
        try:
            while True:
                message = await _receive(reader)
                if message[0] == STOP:
                    break
                _, request, member_id, check_view = message
                try:
                    rebuilder.ask(member_id, check_view, answer_to(request))
                except RebuilderStopped as exc:
                    answer_to(request)(exc)
        except _GONE:
            pass  # the server is gone
        finally:
            ended()
        await asyncio.Future()  # until the rebuilder, stopping, cancels this
    finally:
        counts.cancel()
        writer.close()
