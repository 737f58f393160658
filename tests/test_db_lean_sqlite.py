"""SQLite connections with one trip to the driver's thread per statement (or none, inline)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from server.db.engine import make_engine, make_sessionmaker
from server.db.lean_sqlite import LeanConnection

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, unique=True, nullable=False),
)


@pytest.fixture(params=["threaded", "inline"])
async def engine(request, tmp_path):
    engine = make_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'lean.sqlite3'}?timeout=30",
        inline=request.param == "inline",
    )
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def _trips(connection: LeanConnection) -> list[int]:
    """Counts every call handed to the connection's driver thread (or run inline)."""
    trips = [0]
    handed = connection._execute

    async def counted(function, *args, **kwargs):
        trips[0] += 1
        return await handed(function, *args, **kwargs)

    connection._execute = counted  # type: ignore[method-assign]
    return trips


async def test_statements_answer_as_the_driver_would(engine):
    sessions = make_sessionmaker(engine)
    async with sessions() as db:
        result = await db.execute(insert(things).values(name="a"))
        assert result.inserted_primary_key == (1,)
        await db.execute(insert(things), [{"name": "b"}, {"name": "c"}])  # executemany
        renamed = await db.execute(
            update(things).where(things.c.name != "a").values(name=things.c.name + "!")
        )
        assert renamed.rowcount == 2
        returned = await db.execute(insert(things).values(name="d").returning(things.c.id))
        assert returned.scalar_one() == 4
        await db.commit()
    async with sessions() as db:
        rows = (await db.execute(select(things.c.name).order_by(things.c.id))).scalars().all()
        assert rows == ["a", "b!", "c!", "d"]
        partial = await db.stream(select(things.c.id).order_by(things.c.id))
        assert [row async for row in partial.scalars()] == [1, 2, 3, 4]
    async with sessions() as db:
        with pytest.raises(IntegrityError):
            await db.execute(insert(things).values(name="a"))
        await db.rollback()
        assert await db.scalar(select(text("count(*)")).select_from(things)) == 4


async def test_a_statement_costs_one_trip_and_a_pool_reset_none(engine):
    sessions = make_sessionmaker(engine)
    async with sessions() as db:
        await db.execute(select(things.c.id))  # the pool's connection is open now
        await db.commit()
        raw = (await (await db.connection()).get_raw_connection()).driver_connection
        assert isinstance(raw, LeanConnection)
        trips = _trips(raw)
        await db.execute(select(things.c.id).where(things.c.id == 1))  # BEGIN + SELECT
        assert trips[0] == 1
        await db.execute(select(things.c.name))
        assert trips[0] == 2
        await db.commit()
        assert trips[0] == 3
    # The session is closed and its connection back in the pool: no transaction was
    # open, so its reset made no trip.
    assert trips[0] == 3


async def test_inline_connections_run_on_the_calling_thread(tmp_path):
    before = set(threading.enumerate())
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.sqlite3'}", inline=True)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("select 41 + 1"))).scalar_one() == 42
            assert set(threading.enumerate()) == before  # no driver thread was started
    finally:
        await engine.dispose()


def test_a_database_that_cannot_be_opened_leaves_no_thread_failing_after_the_loop(tmp_path):
    """A command that cannot open its database (a missing folder) prints its message and
    exits; the driver's thread must not answer the closed event loop afterwards (which
    printed "Exception in thread … Event loop is closed" under the message)."""
    import queue
    import sqlite3
    import time

    from server.db import lean_sqlite

    class SlowToStop(queue.SimpleQueue):
        """The driver's thread, busy a moment when asked to stop (a loaded machine)."""

        def get(self, *args, **kwargs):
            item = super().get(*args, **kwargs)
            if item[1] is not None and item[1].__name__ == "close_and_stop":
                time.sleep(0.2)
            return item

    missing = tmp_path / "no-such-folder" / "tessera.sqlite3"
    connect = lean_sqlite.connector([str(missing)], {})
    failures: list[BaseException] = []
    hook, threading.excepthook = threading.excepthook, lambda args: failures.append(args.exc_value)
    try:
        connection = LeanConnection(connect, inline=False)
        connection._tx = SlowToStop()
        connection._thread._args = (connection._tx,)

        async def open_it():
            await connection

        with pytest.raises(sqlite3.OperationalError, match="unable to open database file"):
            asyncio.run(open_it())
        connection._thread.join(timeout=5)
    finally:
        threading.excepthook = hook
    assert failures == []
