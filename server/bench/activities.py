"""The Activities plugin's authorizations in the bench register (its own set-based seeder),
so the card payloads carry real "Authorizations" and "May authorize" sections."""

from __future__ import annotations

import datetime as dt
import sqlite3

from server.bench.registry import seeder
from server.plugins.activities.bench_seed import seed_authorizations

PER_MEMBER = 2


@seeder
def authorizations(conn: sqlite3.Connection, member_ids: range, today: dt.date) -> str:
    count = seed_authorizations(conn, member_ids, PER_MEMBER, today)
    return f"{count:,} authorizations seeded (Activities plugin)"
