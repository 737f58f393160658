"""The hot paths' connections (``server.db.hot``)."""

from __future__ import annotations

import pytest

from server.db.hot import HotConnections
from server.db.target import DatabaseTarget


@pytest.mark.postgres_only
async def test_a_connection_back_in_the_pool_costs_no_reset_round_trip(database_url):
    """asyncpg resets every connection it takes back (one more round trip per hot query);
    the hot pool runs single statements only and skips it: what one query left in the
    session is still there for the next (here a setting nobody else uses)."""
    hot = await HotConnections(DatabaseTarget.parse(database_url)).open()
    try:
        pool = hot.pool
        async with pool.acquire() as connection:
            await connection.execute("SET application_name = 'tessera-hot-test'")
        assert pool.get_size() == 1  # the same connection comes back
        assert await pool.fetchval("SHOW application_name") == "tessera-hot-test"
        # An open transaction is still rolled back when the connection comes back.
        async with pool.acquire() as connection:
            await connection.execute("BEGIN")
        async with pool.acquire() as connection:
            assert not connection.is_in_transaction()
    finally:
        await hot.close()
