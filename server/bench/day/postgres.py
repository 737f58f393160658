"""The day on PostgreSQL: a database of its own on the given server, filled with a copy
of the seeded SQLite register, dropped at the end.

The seeder writes SQLite with raw ``executemany`` (fast, and shared with ``bench``);
the copy reads every table through the models' column types and inserts it with
SQLAlchemy, so timestamps, dates, booleans and JSON arrive as PostgreSQL types.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Iterator

from sqlalchemy import Integer, Table, create_engine, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from server.database import Base
from server.db.engine import make_engine
from server.db.outage import exception_chain
from server.migrate import upgrade

CHUNK = 5_000


def async_url(url: str) -> str:
    """``url`` with the asyncpg driver, whatever driver (or none) it named."""
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(False)


def _admin_url(server_url: str) -> str:
    """Where the benchmark's own database is created from: ``server_url``'s database."""
    server = make_url(async_url(server_url))
    return server.set(database=server.database or "postgres").render_as_string(False)


def unreachable(server_url: str) -> str | None:
    """Why the benchmark cannot create a database through ``server_url``, or None; asked
    before the minutes of seeding, and naming the URL it was given (password hidden)."""
    try:
        asyncio.run(_admin(_admin_url(server_url), "SELECT 1"))
    except Exception as exc:
        shown = make_url(server_url).render_as_string(hide_password=True)
        innermost = list(exception_chain(exc))[-1]
        reason = str(innermost).strip().splitlines()[0] or type(innermost).__name__
        return (
            f"--postgres {shown}: cannot connect ({reason}).\n"
            "Give an existing database on the server (e.g. .../postgres): the benchmark "
            "creates a database of its own beside it and drops it at the end."
        )
    return None


@contextlib.contextmanager
def database_of_its_own(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_url``; its URL. Dropped after."""
    server = make_url(async_url(server_url))
    admin_url = _admin_url(server_url)
    name = f"tessera_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(False)
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, statement: str) -> None:
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def _tables() -> list[Table]:
    import server.models  # noqa: F401  (every core table)
    from server.plugins import registry as plugins

    plugins.discover()  # and the plugins' tables
    return list(Base.metadata.sorted_tables)


async def copy_register(sqlite_path: str, url: str, say: Callable[[str], None]) -> None:
    """Migrate the database at ``url`` and copy every non-empty table into it."""
    await upgrade(url)
    source = create_engine(f"sqlite:///{sqlite_path}")
    target = make_engine(url)
    try:
        present = set(inspect(source).get_table_names())
        copied = 0
        with source.connect() as reading:
            async with target.begin() as writing:
                for table in _tables():
                    if table.name not in present:
                        continue
                    rows = reading.execute(select(table)).mappings()
                    while chunk := rows.fetchmany(CHUNK):
                        await writing.execute(insert(table), [dict(row) for row in chunk])
                        copied += len(chunk)
                    await _follow_sequence(writing, table)
        # As autovacuum leaves a register that has been in use for a while: planner
        # statistics, and the visibility map that lets counts and lookups read indexes
        # alone (a table just loaded has none: every list page's count read the table).
        await _admin(url, "VACUUM ANALYZE")
        say(f"{copied:,} rows copied to PostgreSQL")
    finally:
        source.dispose()
        await target.dispose()


async def _follow_sequence(conn: AsyncConnection, table: Table) -> None:
    """Rows came with their ids: move the id sequence past them."""
    keys = list(table.primary_key.columns)
    if len(keys) != 1 or not isinstance(keys[0].type, Integer):
        return
    column = keys[0].name
    await conn.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence(:table, :column), max_id) "
            f'FROM (SELECT max("{column}") AS max_id FROM "{table.name}") found '
            "WHERE max_id IS NOT NULL"
        ),
        {"table": table.name, "column": column},
    )
