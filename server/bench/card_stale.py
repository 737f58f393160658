"""Card JSON for a card whose payload was just made stale (midnight, a settings change,
a nightly job): every request makes the server build the payload again.

The targets are the cards the seeder did not build (nine in ten of the register), and
before the warm-up and each measured slice their payloads are invalidated through the
public API, so a request meets a fresh payload only when it repeats a card already
asked for in that slice. The built cards the other scenarios ask for stay fresh.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3

from server.bench.registry import Scenario, Target, scenario, seeder
from server.cards.invalidation import invalidate
from server.db.engine import make_engine, make_sessionmaker

_url: list[str] = []


@seeder
def _remember_database(conn: sqlite3.Connection, member_ids: range, today: dt.date) -> str:
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    _url[:] = [f"sqlite+aiosqlite:///{path}"]
    return "stale cards: the unbuilt cards are invalidated before each slice"


CHUNK = 10_000  # member ids per statement (SQLite's limit on bound parameters)


async def invalidate_cards(database_url: str, member_ids: list[int]) -> None:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            for start in range(0, len(member_ids), CHUNK):
                await invalidate(db, member_ids[start : start + CHUNK])
    finally:
        await engine.dispose()


def _make_stale(targets: list[Target]) -> None:
    asyncio.run(invalidate_cards(_url[0], [t.member_id for t in targets]))


def _request(target: Target) -> tuple[str, dict[str, str]]:
    return f"/card/{target.token}.json", {}


scenario(
    Scenario(
        "card json stale",
        "card JSON (stale)",
        15,
        _request,
        population="unbuilt",
        before_slice=_make_stale,
    )
)
