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

from server.plugins.activities.demo import CATALOGUE

BATCH = 50_000
_NOW = "2026-01-01 00:00:00.000000"


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
