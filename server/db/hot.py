"""The hot paths' own connections, opened in the app's lifespan and closed at shutdown.

On SQLite one raw ``sqlite3`` connection used on the event-loop thread: a WAL read
takes microseconds and never waits for a writer, and skipping the driver's thread hop
and the ORM is what lets the card and the check keep up with a bare route. The card
lookup, the check lookup and the check log share it (SQLite empties a connection's page
cache whenever another connection has written; writing the log through the same
connection keeps the lookups' cache). Its WAL checkpoints run in a worker thread.

On PostgreSQL a small ``asyncpg`` pool, connected with the same arguments as the
SQLAlchemy engine (``DatabaseTarget.asyncpg_arguments``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.sql import ClauseElement

from server.db import sqlite
from server.db.target import DatabaseTarget

POOL_SIZE = 10


def compiled(query: ClauseElement) -> tuple[str, str]:
    """``query`` as SQL text for the hot connections: (SQLite ``?``, PostgreSQL ``$n``)."""
    # SQLAlchemy's default PostgreSQL dialect class (psycopg) has an unannotated __init__.
    postgresql = postgresql_dialect.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
    return (
        str(query.compile(dialect=sqlite_dialect.dialect(paramstyle="qmark"))),
        str(query.compile(dialect=postgresql)),
    )


async def _keep_session(connection: Any) -> None:
    """What the pool runs when a connection comes back: nothing.

    asyncpg's default resets the session (``RESET ALL``, ``CLOSE ALL``, ``UNLISTEN *``,
    advisory unlocks) — one more round trip after every hot query, which on a busy
    machine doubled their cost. These connections only ever run single statements with
    no session state; an open transaction is still rolled back by the pool itself."""


class HotConnections:
    def __init__(self, target: DatabaseTarget) -> None:
        self.target = target
        self.sqlite: sqlite3.Connection | None = None
        self.pool: Any = None  # asyncpg.Pool

    async def open(self) -> HotConnections:
        if self.target.is_sqlite:
            path = self.target.sqlite_path
            assert path is not None
            self.sqlite = sqlite.connect(
                path, checkpoints=False, busy_timeout_ms=self.target.sqlite_busy_timeout_ms()
            )
            # The one thing this connection writes is the live check log, whose member
            # and checker ids it has just read, and members are never deleted (only
            # marked so): the foreign-key lookups, two B-tree descents a row (9 µs, two
            # thirds of the row's cost), would check what cannot fail. Every other
            # connection, and PostgreSQL, keeps enforcing them.
            self.sqlite.execute("PRAGMA foreign_keys=OFF")
        else:
            import asyncpg

            self.pool = await asyncpg.create_pool(
                min_size=1,
                max_size=POOL_SIZE,
                reset=_keep_session,
                **self.target.asyncpg_arguments(),
            )
        return self

    async def close(self) -> None:
        if self.sqlite is not None:
            self.sqlite.close()
            self.sqlite = None
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    def sql(self, statement: str) -> str:
        """``statement`` written with ``{}`` for its one parameter, in this driver's style."""
        return statement.format("?" if self.sqlite is not None else "$1")
