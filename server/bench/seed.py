"""A synthetic register for the benchmark: members, branches, live card links, payloads.

Set-based throughout (executemany in batches); the tokens stay in memory and in the
load generator's temporary file, never in the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import JSON, Table, func, select

from server.bench.registry import SEEDERS, Target, scenarios
from server.cards import builder
from server.cards.models import CardLink, CardPayload
from server.cards.tokens import hash_token, new_token
from server.config import Settings
from server.database import sqlite_timestamp, utcnow
from server.db.engine import make_engine, make_sessionmaker
from server.members.models import Member
from server.members.status import compute_status, is_adult
from server.migrate import upgrade

BATCH = 10_000
Progress = Callable[[str], None]


def _member_row(
    n: int, rng: random.Random, branch_ids: list[int], today: dt.date, now: str
) -> dict[str, Any]:
    """One synthetic member, values already in SQLite's storage format."""
    birth_year = today.year - rng.choice((8, 12, 16, 19, 25, 34, 47, 61))
    birth_month = rng.randint(1, 12)
    verified = rng.random() < 0.7
    deactivated = rng.random() < 0.02
    minor = not is_adult(birth_month, birth_year, today)
    parent_linked = minor and n != 1 and rng.random() < 0.8
    email = f"member{n}@bench.example.org"
    return {
        "id": n,
        "public_id": f"{n:016x}",
        "sca_name": f"Bench Member {n}",
        "first_name": "Bench",
        "last_name": f"Person{n}",
        "email": email,
        "email_key": email,
        "branch_id": rng.choice(branch_ids),
        "membership_number": f"{100000 + n}" if verified else None,
        "membership_expires_on": (today + dt.timedelta(days=rng.randint(-200, 700))).isoformat()
        if verified
        else None,
        "background_check_expires_on": (
            today + dt.timedelta(days=rng.randint(-100, 900))
        ).isoformat()
        if rng.random() < 0.3
        else None,
        "birth_month": birth_month,
        "birth_year": birth_year,
        "parent_id": 1 if parent_linked else None,  # member 1 stands in for every parent
        "status": _status(deactivated, not minor, verified, parent_linked),
        "deactivated_at": now if deactivated else None,
        "verified_at": now if verified else None,
        "created_at": now,
        "modified_at": now,
    }


@functools.cache
def _status(deactivated: bool, adult: bool, verified: bool, parent_linked: bool) -> str:
    return compute_status(
        deactivated=deactivated, adult=adult, verified=verified, parent_linked=parent_linked
    )


def _sql_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return sqlite_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, bool):
        return int(value)
    return value


class RowMaker:
    """Rows for a raw ``executemany`` into ``table``: every column, given values or the
    column's scalar default (NULL when nullable; ``{}`` for JSON). Named parameters let
    sqlite3 pick the values in C."""

    def __init__(self, table: Table) -> None:
        self.defaults: dict[str, Any] = {}
        self.required: set[str] = set()
        for column in table.columns:
            default = getattr(column.default, "arg", None)
            if default is not None and not callable(default):
                self.defaults[column.key] = _sql_value(default)
            elif column.nullable:
                self.defaults[column.key] = None
            elif isinstance(column.type, JSON):
                self.defaults[column.key] = "{}"
            else:
                self.required.add(column.key)
        names = ", ".join(f'"{c.name}"' for c in table.columns)
        marks = ", ".join(f":{c.key}" for c in table.columns)
        self.sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
        self.table = table.name
        self._checked = False

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        if not self._checked:
            missing = self.required - row.keys()
            if missing:
                raise ValueError(f"bench seed: no value for {self.table}.{sorted(missing)[0]}")
            self._checked = True
        return {**self.defaults, **row}


def _seed_rows(path: str, members: int, today: dt.date, progress: Progress) -> dict[int, str]:
    """Members and live links with plain sqlite3 executemany (the bench is SQLite)."""
    now = _sql_value(utcnow())
    rng = random.Random(20261121)
    member_row = RowMaker(cast(Table, Member.__table__))
    link_row = RowMaker(cast(Table, CardLink.__table__))
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute(
            "INSERT INTO branches (name, kind, created_at) VALUES ('Kingdom of Bench', 'kingdom', ?)",
            (_sql_value(now),),
        )
        kingdom = conn.execute("SELECT max(id) FROM branches").fetchone()[0]
        conn.executemany(
            "INSERT INTO branches (name, kind, parent_id, created_at) VALUES (?, 'barony', ?, ?)",
            [(f"Barony {i}", kingdom, now) for i in range(1, 31)],
        )
        branch_ids = [r[0] for r in conn.execute("SELECT id FROM branches")]
        tokens: dict[int, str] = {}
        for start in range(1, members + 1, BATCH):
            ids = range(start, min(start + BATCH, members + 1))
            batch = {n: new_token() for n in ids}
            tokens.update(batch)
            conn.execute("BEGIN")
            conn.executemany(
                member_row.sql,
                [member_row(_member_row(n, rng, branch_ids, today, now)) for n in ids],
            )
            conn.executemany(
                link_row.sql,
                [
                    link_row(
                        {
                            "id": n,
                            "member_id": n,
                            "token_hash": hash_token(t),
                            "live_member_id": n,
                            "issued_at": now,
                            "issued_via": "bench",
                            "revoke_reason": "",
                        }
                    )
                    for n, t in batch.items()
                ],
            )
            conn.execute("COMMIT")
            if (start // BATCH) % 4 == 0 or start + BATCH > members:
                progress(f"seeded {min(start + BATCH - 1, members):,} of {members:,} members")
        conn.execute(
            "INSERT INTO job_locks (name, last_run_on, last_result) VALUES ('nightly', ?, '')",
            (today.isoformat(),),
        )  # last night's run: the server's own scheduler starts none during the benchmark
        for extra in SEEDERS:
            conn.execute("BEGIN")
            summary = extra(conn, range(1, members + 1), today)
            conn.execute("COMMIT")
            progress(summary)
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return tokens


@dataclass(frozen=True)
class Seeded:
    loaded: list[Target]  # cards with a built payload (their ETag is known)
    unbuilt: list[Target]  # every other member's card, in member order (no ETag)


async def seed(settings: Settings, members: int, loaded: int, progress: Progress) -> Seeded:
    """Migrate the empty SQLite database of ``settings`` and fill it; payloads are built
    for ``loaded`` randomly chosen members (the ones the load generator will ask for),
    as the server will build them (its data dir's check key, its base URL)."""
    database_url = settings.database_url
    await upgrade(database_url)
    today = dt.date.today()
    started = time.monotonic()
    path = database_url.split(":///", 1)[1]
    scenarios()  # imports the scenario modules, which register their seeders
    tokens = await asyncio.to_thread(_seed_rows, path, members, today, progress)
    progress(
        f"{members:,} members with live card links seeded in {time.monotonic() - started:.1f} s"
    )
    chosen = sorted(random.sample(list(tokens), min(loaded, len(tokens))))
    started = time.monotonic()
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            await builder.rebuild(db, chosen, settings)
            etags = dict((await db.execute(select(CardPayload.member_id, CardPayload.etag))).all())
            with_qr = await db.scalar(select(func.count(CardPayload.check_code)))
            with_rows = await db.scalar(
                select(func.count()).where(CardPayload.body.contains('"rows":[{'))
            )
    finally:
        await engine.dispose()
    took = time.monotonic() - started
    # The benchmark must serve the cards members really get: QR code and plugin sections.
    if with_qr != len(chosen):
        raise RuntimeError(f"only {with_qr} of {len(chosen)} bench cards have their check QR")
    if SEEDERS and not with_rows:
        raise RuntimeError("no bench card shows a plugin section row")
    progress(
        f"{len(chosen):,} card payloads built in {took:.1f} s "
        f"({1000 * took / max(len(chosen), 1):.1f} ms each, check QR and sections included)"
    )
    built = set(chosen)
    return Seeded(
        loaded=[Target(tokens[n], etags[n] or "", n) for n in chosen if etags.get(n)],
        unbuilt=[Target(tokens[n], "", n) for n in sorted(tokens) if n not in built],
    )
