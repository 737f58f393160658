"""SQLite transactions that take the write lock at their first write (see ``server.db``).

SQLAlchemy starts a transaction when a session or connection first runs a statement
(the ``begin`` event); the driver is told to leave transactions to us
(``isolation_level=None``). We remember that a transaction is *pending* and open it at
its first statement: a read opens a deferred ``BEGIN`` (a WAL snapshot, no lock); a
write opens ``BEGIN IMMEDIATE``; a write inside a read transaction ends the read
snapshot (``COMMIT`` — nothing was written) and opens ``BEGIN IMMEDIATE``. Commit and
rollback go through the driver as usual and end the state.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import TextClause, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.ext.asyncio import AsyncSession

STATE = "tessera_sqlite_transaction"  # key in the pooled connection's ``info``
PENDING, READING, WRITING = "pending", "reading", "writing"
WRITE_INTENT = "tessera_write_intent"  # execution option: treat this statement as a write
READ_HEADS = ("SELECT", "WITH", "PRAGMA", "EXPLAIN", "VALUES")  # of textual SQL


def _writes(statement: str, context: DefaultExecutionContext | None) -> bool:
    """Whether ``statement`` needs the write lock: anything but a SELECT (CTEs included);
    DML, DDL and savepoints do. Textual SQL is judged by its first word."""
    if context is not None:
        if context.execution_options.get(WRITE_INTENT):
            return True
        element = getattr(context.compiled, "statement", None)
        if element is not None and not isinstance(element, TextClause):
            return not element.is_select
    return not statement.lstrip().upper().startswith(READ_HEADS)


def install(engine: Engine) -> None:
    """Give ``engine`` (the sync engine of an aiosqlite ``AsyncEngine``) this model."""

    @event.listens_for(engine, "connect")
    def _driver_hands_over(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection.isolation_level is not None:  # lean connections open without
            dbapi_connection.isolation_level = None  # no implicit BEGIN from the driver

    @event.listens_for(engine, "begin")
    def _pending(connection: Connection) -> None:
        autocommit = connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        connection.info[STATE] = None if autocommit else PENDING

    @event.listens_for(engine, "before_cursor_execute")
    def _open(
        connection: Connection,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: DefaultExecutionContext | None,
        executemany: bool,
    ) -> None:
        state = connection.info.get(STATE)
        if state is None or state == WRITING:
            return
        if not _writes(statement, context):
            if state == PENDING:
                cursor.execute("BEGIN")
                connection.info[STATE] = READING
            return
        if state == READING:
            cursor.execute("COMMIT")  # the read snapshot ends; nothing was written
        connection.info[STATE] = PENDING
        cursor.execute("BEGIN IMMEDIATE")  # waits up to the busy timeout
        connection.info[STATE] = WRITING

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _ended(connection: Connection) -> None:
        # An invalidated connection (a statement cancelled mid-way: a stopping server)
        # has no DBAPI connection to hold the state, and asking for it raises
        # PendingRollbackError in place of the rollback (and of the cancellation
        # behind it). Its replacement starts afresh at the next ``begin``.
        if connection.invalidated:
            return
        connection.info[STATE] = None


async def lock_for_write(db: AsyncSession) -> None:
    """Serialise what follows with every other writer, as ``FOR UPDATE`` does for rows.

    Call it before ``with_for_update()`` reads: on SQLite it takes the database's write
    lock now (SQLite has no row locks, and a deferred read would see a snapshot another
    writer may already have replaced); on PostgreSQL it does nothing.
    """
    connection = await db.connection()
    if connection.dialect.name == "sqlite":
        await connection.execute(text("SELECT 1"), execution_options={WRITE_INTENT: True})


async def lock_table(db: AsyncSession, table: str) -> None:
    """Serialise writers of ``table`` that first check, then insert, with each other:
    the second waits, then sees what the first committed. Readers are not blocked.

    On SQLite the database's write lock does it; on PostgreSQL a ``SHARE ROW
    EXCLUSIVE`` table lock (it conflicts with itself and with writes, not with reads).
    ``table`` is a name from the code, never from a request.
    """
    connection = await db.connection()
    if connection.dialect.name == "sqlite":
        await lock_for_write(db)
        return
    quoted = connection.dialect.identifier_preparer.quote(table)
    await connection.execute(text(f"LOCK TABLE {quoted} IN SHARE ROW EXCLUSIVE MODE"))


# How long a write of bookkeeping (``without_waiting``) waits for a PostgreSQL row lock.
PG_NO_WAIT = "50ms"


@contextlib.asynccontextmanager
async def without_waiting(db: AsyncSession) -> AsyncIterator[None]:
    """The writes inside, up to their commit, do not wait for a busy database: on SQLite
    the write lock is taken only if it is free, on PostgreSQL a row lock is waited for
    briefly; otherwise they fail at once as busy (``server.db.busy.is_busy``).

    For bookkeeping a page view does on the side (a session's last-seen time), which the
    caller skips when the database is busy: the page then answers at once, as every
    other read does, instead of queueing behind a long write and answering 503.
    """
    connection = await db.connection()
    if connection.dialect.name != "sqlite":
        await connection.execute(text(f"SET LOCAL lock_timeout = '{PG_NO_WAIT}'"))
        yield
        return
    patience = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    await connection.exec_driver_sql("PRAGMA busy_timeout = 0")
    try:
        yield
    finally:
        restore = await db.connection()  # a new transaction, if the caller committed
        await restore.exec_driver_sql(f"PRAGMA busy_timeout = {int(patience or 0)}")
