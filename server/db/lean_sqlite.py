"""aiosqlite connections that cost one thread round trip per statement, or none.

SQLAlchemy's aiosqlite adapter makes four round trips between the event loop and the
driver's thread for every query (open a cursor, execute, fetch, close), and one more for
the deferred ``BEGIN`` of ``server.db.transactions``. Each round trip is a full turn of
the event loop: on a loop busy with hot-path requests an officer page of a dozen queries
waited some fifty turns. Here a statement runs with its ``BEGIN``, its rows fetched and
its cursor closed in **one** call on the driver's thread; a rollback of a connection that
is in no transaction (the pool's reset of every returned connection) makes none.

``inline=True`` runs every call on the calling thread instead, with no driver thread:
for an event loop that has a thread to itself (the card rebuilder, ``server.cards.rebuild``),
where a blocking read costs nobody else anything. A connection that may wait for the
write lock belongs on a driver thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import Any

import aiosqlite

from server.db import lowered

Row = tuple[Any, ...]
Outcome = tuple[Any, int, int | None, list[Row]]  # description, rowcount, lastrowid, rows


def _run(
    connection: sqlite3.Connection, begin: bool, sql: str, parameters: Any, many: bool
) -> Outcome:
    """On the driver's thread: the pending ``BEGIN``, the statement, all its rows."""
    if begin:
        connection.execute("BEGIN")
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class _Inline:
    """Stands in for aiosqlite's queue to its thread: runs each call at once, here."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class LeanCursor:
    """The cursor SQLAlchemy's adapter drives; its rows arrive with the execute."""

    arraysize = 1

    def __init__(self, connection: LeanConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: collections.deque[Row] = collections.deque()

    async def __aenter__(self) -> LeanCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = ()) -> LeanCursor:
        if sql == "BEGIN":  # deferred: it costs nothing until the statement that follows
            self._connection.begin_pending = True
            self.description, self.rowcount, self._rows = None, -1, collections.deque()
            return self
        return await self._call(sql, parameters, many=False)

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> LeanCursor:
        return await self._call(sql, parameters, many=True)

    async def _call(self, sql: str, parameters: Any, *, many: bool) -> LeanCursor:
        connection = self._connection
        begin, connection.begin_pending = connection.begin_pending, False
        outcome = await connection.run(_run, connection.driver, begin, sql, parameters, many)
        self.description, self.rowcount, self.lastrowid, rows = outcome
        self._rows = collections.deque(rows)
        return self

    async def fetchone(self) -> Row | None:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Row]:
        count = min(size or self.arraysize, len(self._rows))
        return [self._rows.popleft() for _ in range(count)]

    async def fetchall(self) -> list[Row]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def close(self) -> None:
        self._rows.clear()


class LeanConnection(aiosqlite.Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection], *, inline: bool) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self.inline = inline
        self.begin_pending = False
        if inline:
            self._tx = _Inline()  # type: ignore[assignment]
        else:
            self._thread.daemon = True  # as SQLAlchemy does for connections it opens

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        if self.inline:
            return self._connect().__await__()
        return super().__await__()

    async def _connect(self) -> aiosqlite.Connection:
        """As aiosqlite's, but a failed open waits for the driver's thread to stop:
        aiosqlite only asks it to, and a thread answering after the caller's event loop
        closed (``asyncio.run`` of a command that could not open its database) printed
        "Exception in thread … Event loop is closed" under the command's clear message."""
        if self._connection is None:
            try:
                future = asyncio.get_running_loop().create_future()
                self._tx.put_nowait((future, self._connector))
                self._connection = await future
            except BaseException:
                stopped = self.stop()
                self._connection = None
                if stopped is not None:
                    with contextlib.suppress(BaseException):
                        await stopped
                raise
        return self

    @property
    def driver(self) -> sqlite3.Connection:
        return self._conn

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        return await self._execute(function, *args)  # type: ignore[no-untyped-call]

    def cursor(self) -> LeanCursor:  # type: ignore[override]
        return LeanCursor(self)

    async def commit(self) -> None:
        self.begin_pending = False
        if self._connection is not None and not self._connection.in_transaction:
            return
        await super().commit()

    async def rollback(self) -> None:
        self.begin_pending = False
        if self._connection is not None and not self._connection.in_transaction:
            return
        await super().rollback()


def connector(
    arguments: Sequence[Any], options: Mapping[str, Any]
) -> Callable[[], sqlite3.Connection]:
    """How to open the driver's connection: as SQLAlchemy's dialect would (its arguments
    from the URL), shared across threads, transactions left to ``server.db.transactions``."""

    def connect() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(
            *arguments, **{**options, "check_same_thread": False, "isolation_level": None}
        )
        lowered.register(connection)
        return connection

    return connect
