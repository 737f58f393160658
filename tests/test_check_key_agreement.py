"""A data dir whose check keys did not sign the codes the database's cards carry (a second
server that made a key of its own, a database restored without check_keys.json) is
named at start, instead of every card checking as forged."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from server.cards.models import CardPayload
from server.checks import keyring
from server.checks.key_agreement import foreign_key_warning
from tests.card_fixtures import issued_token
from tests.check_fixtures import make_verified


async def _card_built(client, db, settings, name: str) -> None:
    """A member's card fetched, and its payload (with the check code) stored."""
    member = await make_verified(db, sca_name=name)
    member_id = member.id
    token = await issued_token(db, settings, member)
    assert (await client.get(f"/card/{token}.json")).status_code == 200
    for _ in range(200):  # the rebuilder stores the payload just after answering
        stored = await db.scalar(
            select(CardPayload.check_code).where(CardPayload.member_id == member_id)
        )
        await db.rollback()
        if stored:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the card's payload was not stored")


async def test_serve_names_a_data_dir_whose_keys_did_not_sign_the_cards(
    client, db, settings, database_url, tmp_path
):
    # Nothing stored yet: nothing to disagree with.
    assert await asyncio.to_thread(foreign_key_warning, database_url, settings.data_dir) is None
    await _card_built(client, db, settings, "Gerlach")

    same = await asyncio.to_thread(foreign_key_warning, database_url, settings.data_dir)
    assert same is None
    other_dir = tmp_path / "second-server"
    warning = await asyncio.to_thread(foreign_key_warning, database_url, other_dir)
    assert warning is not None and str(other_dir / keyring.FILE_NAME) in warning
    assert "Copy check_keys.json" in warning and len(warning.splitlines()) == 2

    # A copied key file agrees.
    (other_dir / keyring.FILE_NAME).write_text((settings.data_dir / keyring.FILE_NAME).read_text())
    assert await asyncio.to_thread(foreign_key_warning, database_url, other_dir) is None


async def test_a_rotated_key_is_no_stranger(client, db, settings, database_url):
    await _card_built(client, db, settings, "Rotgar")
    keyring.rotate(settings.data_dir, retire_previous=True)
    assert await asyncio.to_thread(foreign_key_warning, database_url, settings.data_dir) is None
