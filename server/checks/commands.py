"""``manage.py rotate-check-key``: a new signing key for check codes.

Retiring a key marks every mobile card that carries a code it signed for rebuild at once
(in one transaction), instead of leaving those cards answering REVOKED until their
hourly rebuild. A server that has not yet reloaded the keys (it looks every few seconds)
could rebuild a card with the old key meanwhile, so the command looks again once every
server has reloaded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from server.cards.invalidation import invalidate
from server.cards.models import CardPayload
from server.checks import keyring
from server.checks.codes import key_prefix
from server.cli import argument, command, positive_int
from server.config import load_settings
from server.db.engine import make_engine, make_sessionmaker

# Seconds to wait before the second look: every running server has reloaded the keys.
SETTLE_SECONDS = keyring.RELOAD_SECONDS + 1


async def invalidate_cards_signed_by(database_url: str, key_ids: Iterable[int]) -> int:
    """Mark stale every built card whose check code one of these keys signed; how many."""
    prefixes = [key_prefix(k) for k in key_ids]
    if not prefixes:
        return 0
    affected = select(CardPayload.member_id).where(
        CardPayload.body.is_not(None),
        func.substr(CardPayload.check_code, 1, 4).in_(prefixes),
    )
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            count = await db.scalar(select(func.count()).select_from(affected.subquery()))
            await invalidate(db, affected)
        return int(count or 0)
    finally:
        await engine.dispose()


@command(
    "rotate-check-key", "Make a new key for signing check codes (earlier ones keep verifying)."
)
@argument("--retire-previous", action="store_true", help="Refuse codes signed by earlier keys.")
@argument(
    "--retire", type=positive_int, metavar="KEY_ID", help="Retire one earlier key (no new key)."
)
def rotate_check_key(args: argparse.Namespace) -> int:
    if args.retire is not None and args.retire_previous:
        print(
            "--retire KEY_ID retires one key and makes none; --retire-previous makes a new key "
            "and retires every earlier one.\nNothing was changed: give one of them.",
            file=sys.stderr,
        )
        return 2
    settings = load_settings()
    data_dir = settings.data_dir
    before = {k.key_id for k in keyring.load_or_create(data_dir).keys.values() if k.retired}
    try:
        if args.retire is not None:
            ring = keyring.retire(data_dir, args.retire)
            print(f"Key {args.retire} is retired: codes it signed are refused from now on.")
        else:
            ring = keyring.rotate(data_dir, retire_previous=args.retire_previous)
            print(f"New check key {ring.current_id} signs codes from now on.")
    except ValueError as problem:
        print(problem, file=sys.stderr)
        return 2
    for key in ring.keys.values():
        state = (
            "current" if key.key_id == ring.current_id else "retired" if key.retired else "valid"
        )
        print(f"  key {key.key_id}: {state}, made {key.created_at:%Y-%m-%d %H:%M} UTC")
    print("Running servers pick the change up within a few seconds.")
    retired = {k.key_id for k in ring.keys.values() if k.retired} - before
    if retired:
        from server.core_commands import has_register

        try:
            if not has_register(settings.database_url):
                print("No register yet: no mobile card carries a code of the retired keys.")
                return 0
            stale = asyncio.run(invalidate_cards_signed_by(settings.database_url, retired))
        except (SQLAlchemyError, OSError) as problem:
            print(
                f"Mobile cards could not be marked for rebuild ({problem.__class__.__name__}); "
                "they renew their codes at the organisation's next midnight.",
                file=sys.stderr,
            )
            return 0
        print(f"{stale} mobile cards carry codes of the retired keys: marked for rebuild now.")
        time.sleep(SETTLE_SECONDS)
        again = asyncio.run(invalidate_cards_signed_by(settings.database_url, retired))
        if again:
            print(f"{again} more rebuilt meanwhile with the old keys: marked again.")
    return 0
