"""The Activities plugin in the benchmark: authorizations in the bench register (so the
card payloads carry real "Authorizations" and "May authorize" sections), and the
plugin's own figures — batch HTML for 1,000 auth cards, the nightly expiry over 1M
authorizations (200k with ``--quick``) — in a register of their own."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable

from server.bench.registry import figure, seeder
from server.plugins.activities import bench_command
from server.plugins.activities.bench_seed import seed_authorizations

PER_MEMBER = 2
FIGURE_PER_MEMBER = 10
QUICK_FIGURE_MEMBERS = 20_000


@seeder
def authorizations(conn: sqlite3.Connection, member_ids: range, today: dt.date) -> str:
    count = seed_authorizations(conn, member_ids, PER_MEMBER, today)
    return f"{count:,} authorizations seeded (Activities plugin)"


@figure
def auth_cards_and_expiry(
    members: int, quick: bool, say: Callable[[str], None]
) -> list[tuple[str, float]]:
    count = min(members, QUICK_FIGURE_MEMBERS) if quick else members
    return bench_command.measure(count, FIGURE_PER_MEMBER, 1000, say)
