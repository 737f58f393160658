"""The SQLAlchemy engine and session factory, prepared for the locking model of ``server.db``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from server.db import sqlite, transactions
from server.db.target import DatabaseTarget

PG_LOCK_TIMEOUT = f"{sqlite.BUSY_TIMEOUT_MS}ms"  # the same patience as SQLite's busy timeout


def make_engine(database: str | DatabaseTarget, **kwargs: Any) -> AsyncEngine:
    target = database if isinstance(database, DatabaseTarget) else DatabaseTarget.parse(database)
    if target.backend == "postgresql":
        # A request never waits on a row lock for long: past this it is "busy" (503).
        settings = kwargs.setdefault("connect_args", {}).setdefault("server_settings", {})
        settings.setdefault("lock_timeout", PG_LOCK_TIMEOUT)
    engine = create_async_engine(target.url, **kwargs)
    if target.is_sqlite:
        sync_engine = engine.sync_engine
        transactions.install(sync_engine)

        @event.listens_for(sync_engine, "connect")
        def _prepare(dbapi_connection: Any, record: Any) -> None:
            sqlite.prepare(dbapi_connection)

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
