"""The live marshal check: ``/check/{code}`` for a random seeded member, anonymous.

Each target gets its own code (distinct codes: no cache helps), signed with the
benchmark server's key pair, made in its data dir (the seeded database's folder).
Two kinds: the code the member's mobile card carries now, read from the card payload
built by the seeder (the server trusts the text it stored with the card), and a
printed auth card's code (signed again and compared).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from pathlib import Path

from server.bench.registry import Scenario, Target, scenario, seeder
from server.checks import codes, keyring

_database: list[Path] = []


@seeder
def _remember_database(conn: sqlite3.Connection, member_ids: range, today: dt.date) -> str:
    path = Path(conn.execute("PRAGMA database_list").fetchone()[2])
    _database[:] = [path]
    keyring.load_or_create(path.parent)  # the server's data dir: it will use this key
    return "check codes: key pair in the data dir"


def _of_member(sql: str, target: Target) -> str:
    """One column of the target member's row, read from the seeded database."""
    with contextlib.closing(sqlite3.connect(_database[0])) as conn:
        (value,) = conn.execute(sql, (target.member_id,)).fetchone()
    return str(value)


def mobile_request(target: Target) -> tuple[str, dict[str, str]]:
    code = _of_member("SELECT check_code FROM card_payloads WHERE member_id = ?", target)
    try:
        codes.read(code, keyring.load_or_create(_database[0].parent))
    except codes.CodeRejected as rejected:
        raise RuntimeError(f"a bench card carries a code the server refuses: {rejected}") from None
    return f"/check/{code}", {}


def _printed(target: Target) -> tuple[str, dict[str, str]]:
    public_id = _of_member("SELECT public_id FROM members WHERE id = ?", target)
    ring = keyring.load_or_create(_database[0].parent)
    now = dt.datetime.now(dt.UTC)
    return f"/check/{codes.printed_code(ring, public_id, now, now.date())}", {}


scenario(Scenario("check", "marshal check (card)", 40, mobile_request))
scenario(Scenario("check printed", "check (printed code)", 41, _printed))
