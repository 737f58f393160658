"""Seeding a large register with activities and authorizations for ``manage.py bench``.

Raw ``sqlite3`` executemany in batches (the bench database is SQLite): ``per_member``
authorizations for every member, in a mix of statuses; about one in ten approved ones is
past its expiry, so the nightly job has work to do.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections.abc import Iterable, Iterator

from sqlalchemy import Table
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from server.members.models import Member
from server.plugins.activities.demo import CATALOGUE

BATCH = 50_000
_NOW = "2026-01-01 00:00:00.000000"


def _member_values(table: Table, n: int, today: dt.date) -> tuple[object, ...]:
    """One verified adult; every other column from its scalar default or NULL."""
    given: dict[str, object] = {
        "id": n,
        "public_id": f"{n:016x}",
        "sca_name": f"Bench Member {n}",
        "email": f"member{n}@bench.example.org",
        "email_key": f"member{n}@bench.example.org",
        "branch_id": 1,
        "membership_number": f"{100000 + n}",
        "membership_expires_on": (today + dt.timedelta(days=300)).isoformat(),
        "birth_month": 5,
        "birth_year": 1990,
        "status": "verified",
        "verified_at": _NOW,
        "created_at": _NOW,
        "modified_at": _NOW,
        "additional_info": "{}",
    }
    values: list[object] = []
    for column in table.columns:
        if column.key in given:
            values.append(given[column.key])
        elif isinstance(column.default, ScalarElementColumnDefault):
            arg = column.default.arg
            values.append(int(arg) if isinstance(arg, bool) else arg)
        else:
            values.append(None)
    return tuple(values)


def seed_members(conn: sqlite3.Connection, count: int, today: dt.date) -> None:
    """A branch and ``count`` verified adult members (ids 1..count)."""
    table = Member.__table__
    assert isinstance(table, Table)
    conn.execute(
        "INSERT INTO branches (id, name, kind, created_at) VALUES (1, 'Kingdom of Bench', "
        "'kingdom', ?)",
        (_NOW,),
    )
    names = ", ".join(f'"{c.name}"' for c in table.columns)
    sql = f"INSERT INTO members ({names}) VALUES ({', '.join('?' for _ in table.columns)})"
    for start in range(1, count + 1, BATCH):
        ids = range(start, min(start + BATCH, count + 1))
        conn.executemany(sql, [_member_values(table, n, today) for n in ids])


def seed_catalogue(conn: sqlite3.Connection) -> list[int]:
    """The demo's activity groups and activities; returns the activity ids."""
    ids: list[int] = []
    for group_name, (permission, activities) in CATALOGUE.items():
        cur = conn.execute(
            "INSERT INTO activity_groups (name, description, is_active, created_at) "
            "VALUES (?, '', 1, ?)",
            (group_name, _NOW),
        )
        group_id = cur.lastrowid
        for name, term, low, high, new, renewal in activities:
            cur = conn.execute(
                "INSERT INTO activities (group_id, name, term_months, minimum_age, maximum_age, "
                "approvals_new, approvals_renewal, authorize_permission, is_active, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
                (group_id, name, term, low, high, new, renewal, permission, _NOW),
            )
            assert cur.lastrowid is not None
            ids.append(cur.lastrowid)
    return ids


def _rows(
    member_ids: Iterable[int], activity_ids: list[int], per_member: int, today: dt.date
) -> Iterator[tuple[object, ...]]:
    rng = random.Random(5)
    per_member = min(per_member, len(activity_ids))
    for member_id in member_ids:
        for activity_id in rng.sample(activity_ids, per_member):
            roll = rng.random()
            if roll < 0.70:
                status, days = "approved", rng.randint(-40, 1400)  # ~3 % already ran out
                if rng.random() < 0.1:
                    days = -rng.randint(1, 30)
            elif roll < 0.80:
                status, days = "expired", -rng.randint(1, 900)
            elif roll < 0.90:
                status, days = "replaced", -rng.randint(1, 900)
            elif roll < 0.95:
                status, days = "pending", 0
            else:
                status, days = "revoked", rng.randint(-300, 900)
            expires = None if status == "pending" else (today + dt.timedelta(days=days)).isoformat()
            start = None if status == "pending" else (today - dt.timedelta(days=400)).isoformat()
            yield (member_id, activity_id, status, 0, member_id, _NOW, start, expires, "")


def seed_authorizations(
    conn: sqlite3.Connection, member_ids: Iterable[int], per_member: int, today: dt.date
) -> int:
    """Insert the authorizations; returns how many."""
    activity_ids = seed_catalogue(conn)
    sql = (
        "INSERT INTO authorizations (member_id, activity_id, status, is_renewal, "
        "requested_by_id, requested_at, start_on, expires_on, revoked_reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    total = 0
    batch: list[tuple[object, ...]] = []
    for row in _rows(member_ids, activity_ids, per_member, today):
        batch.append(row)
        if len(batch) >= BATCH:
            conn.executemany(sql, batch)
            total += len(batch)
            batch.clear()
    if batch:
        conn.executemany(sql, batch)
        total += len(batch)
    return total
