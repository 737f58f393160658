"""The ORM engine (``server.db.engine``)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from server.db.engine import make_engine
from server.db.hot import HotConnections
from server.db.target import DatabaseTarget


@pytest.mark.postgres_only
async def test_a_pooled_connection_the_server_closed_is_replaced_before_use(database_url):
    """PostgreSQL restarted (here: the pooled connection's backend was terminated) while a
    connection sat in the pool: the next request gets a new one, not an error."""
    engine = make_engine(database_url)
    hot = await HotConnections(DatabaseTarget.parse(database_url)).open()
    try:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert await hot.pool.fetchval("SELECT pg_terminate_backend($1)", pid)
        await asyncio.sleep(0.5)  # the pool sits idle; the closed socket is noticed
        async with engine.connect() as connection:
            again = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert again != pid
    finally:
        await hot.close()
        await engine.dispose()
