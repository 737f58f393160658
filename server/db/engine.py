"""The SQLAlchemy engine and session factory, prepared for the locking model of ``server.db``."""

from __future__ import annotations

from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from server.db import lean_sqlite, sqlite, transactions
from server.db.lean_sqlite import LeanConnection
from server.db.target import DatabaseTarget

PG_LOCK_TIMEOUT = f"{sqlite.BUSY_TIMEOUT_MS}ms"  # the same patience as SQLite's busy timeout


def make_engine(
    database: str | DatabaseTarget, *, inline: bool = False, **kwargs: Any
) -> AsyncEngine:
    """The engine for ``database``. On SQLite its connections are ``server.db.lean_sqlite``'s
    (``inline``: run on the calling thread, for a loop with a thread of its own)."""
    target = database if isinstance(database, DatabaseTarget) else DatabaseTarget.parse(database)
    if target.is_sqlite:
        arguments, options = target.url.get_dialect()().create_connect_args(target.url)

        async def lean_connection() -> aiosqlite.Connection:
            return await LeanConnection(lean_sqlite.connector(arguments, options), inline=inline)

        kwargs.setdefault("async_creator", lean_connection)
    if target.backend == "postgresql":
        # A request never waits on a row lock for long: past this it is "busy" (503).
        connect_args = kwargs.setdefault("connect_args", {})
        settings = connect_args.setdefault("server_settings", {})
        settings.setdefault("lock_timeout", PG_LOCK_TIMEOUT)
        for key, number in target.asyncpg_numbers().items():
            connect_args.setdefault(key, number)  # the URL's text, as asyncpg takes it
    engine = create_async_engine(target.url, **kwargs)
    if target.backend == "postgresql":
        event.listen(engine.sync_engine, "checkout", _drop_closed_connection)
    if target.is_sqlite:
        sync_engine = engine.sync_engine
        transactions.install(sync_engine)

        @event.listens_for(sync_engine, "connect")
        def _prepare(dbapi_connection: Any, record: Any) -> None:
            sqlite.prepare(dbapi_connection, busy_timeout_ms=target.sqlite_busy_timeout_ms())

    return engine


def _drop_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled PostgreSQL connection the server closed while it sat in the pool (the
    server restarted, the network dropped it) is replaced before use, not handed to a
    request that then fails. asyncpg notices a closed socket by itself, so this costs no
    round trip (unlike ``pool_pre_ping``)."""
    connection = getattr(dbapi_connection, "driver_connection", None)  # asyncpg's own
    if connection is not None and connection.is_closed():
        raise DisconnectionError("the pooled connection was closed by the server")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
