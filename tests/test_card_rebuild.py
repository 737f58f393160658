"""Stale cards are rebuilt off the write lock: in batches on demand, and in the background."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from server.cards import builder
from server.cards.invalidation import CURRENT_EPOCH, invalidate
from server.cards.models import CardPayload
from server.cards.rebuild import CardRebuilder
from server.members.models import Member
from server.settings.store import set_setting
from tests.card_fixtures import issued_token
from tests.db_fixtures import long_write
from tests.factories import make_member

CARDS = 40


async def _cards(db, settings, count: int) -> tuple[list[int], list[str]]:
    members = [await make_member(db, sca_name=f"Card {n}") for n in range(count)]
    ids = [m.id for m in members]
    tokens = [await issued_token(db, settings, m) for m in members]
    await builder.rebuild(db, ids, settings)
    return ids, tokens


async def _stale_count(db) -> int:
    count = await db.scalar(
        select(func.count()).where(
            (CardPayload.body.is_(None)) | (CardPayload.epoch < CURRENT_EPOCH)
        )
    )
    await db.commit()
    return int(count or 0)


async def _until_none_stale(db, seconds: float = 15) -> None:
    for _ in range(int(seconds * 10)):
        if not await _stale_count(db):
            return
        await asyncio.sleep(0.1)
    assert await _stale_count(db) == 0


async def test_a_whole_register_invalidation_then_concurrent_refreshes(
    app, client, db, settings, database_url
):
    """A settings change makes every card stale; the next refreshes all answer, with the
    new colour, in a few batches, and none of them waits for the write lock."""
    ids, tokens = await _cards(db, settings, CARDS)
    await set_setting(db, "card_color", "#123456", None)
    await db.commit()
    assert await _stale_count(db) == CARDS
    rebuilder = app.state.cards.rebuilder
    batches_before = rebuilder.batches
    async with long_write(database_url):  # another writer holds the database meanwhile
        answers = await asyncio.gather(*(client.get(f"/card/{t}.json") for t in tokens))
    assert [a.status_code for a in answers] == [200] * CARDS
    assert {a.json()["org"]["color"] for a in answers} == {"#123456"}
    assert rebuilder.batches - batches_before < CARDS // 4  # built together, not one by one
    await _until_none_stale(db)  # the storer writes once the other writer is done
    again = await client.get(f"/card/{tokens[0]}.json")
    assert again.json() == answers[0].json()


async def test_the_sweep_rebuilds_stale_cards_without_requests(app, db, settings):
    ids, _ = await _cards(db, settings, CARDS)
    await invalidate(db, ids[: CARDS // 2])
    await invalidate(db, None, reason="test: every card")
    await db.commit()
    assert await _stale_count(db) == CARDS
    sweeper = CardRebuilder(settings, sweep=True, sweep_rate=10_000)
    sweeper.start()
    try:
        await _until_none_stale(db)
    finally:
        await sweeper.stop()
    assert sweeper.built >= CARDS


async def test_a_deleted_members_card_is_gone(app, client, db, settings):
    [member_id], [token] = await _cards(db, settings, 1)
    member = await db.get(Member, member_id)
    assert member is not None
    member.deleted_at = member.created_at
    await db.commit()
    assert (await client.get(f"/card/{token}.json")).status_code == 410
