"""``python manage.py bench-activities``: batch auth-card HTML and nightly expiry, timed.

Seeds a temporary SQLite register (members, the demo activity catalogue and
``--per-member`` authorizations each; default 100,000 × 10 = 1M authorizations), then
prints one line per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from server.cli import argument, command, positive_int
from server.migrate import upgrade
from server.plugins import registry
from server.plugins.activities import benchmarks
from server.plugins.activities.bench_seed import seed_authorizations, seed_members


def _seed(path: Path, members: int, per_member: int, today: dt.date) -> int:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        seed_members(conn, members, today)
        count = seed_authorizations(conn, range(1, members + 1), per_member, today)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return count


def measure(
    members: int, per_member: int, cards: int, say: Callable[[str], None]
) -> list[tuple[str, float]]:
    """Seed a register of its own, time the batch and the expiry; ``(key, seconds)`` pairs."""
    today = dt.date.today()
    registry.discover()
    with tempfile.TemporaryDirectory(prefix="tessera-bench-") as work:
        path = Path(work) / "bench.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        asyncio.run(upgrade(url))
        started = time.monotonic()
        count = _seed(path, members, per_member, today)
        say(
            f"seeded {members:,} members and {count:,} authorizations "
            f"in {time.monotonic() - started:.1f} s"
        )
        batch = asyncio.run(
            benchmarks.batch_auth_cards(url, list(range(1, min(cards, members) + 1)))
        )
        say(batch.line())
        expiry, _total = asyncio.run(benchmarks.nightly_expiry(url, today))
        say(expiry.line())
    return [("auth card batch seconds", batch.seconds), ("nightly expiry seconds", expiry.seconds)]


@command("bench-activities", "Time batch auth-card HTML and the nightly authorization expiry.")
@argument(
    "--members", type=positive_int, default=100_000, help="Members to seed (default 100,000)."
)
@argument(
    "--per-member", type=positive_int, default=10, help="Authorizations per member (default 10)."
)
@argument(
    "--cards", type=positive_int, default=1000, help="Auth cards in the batch (default 1,000)."
)
def bench_activities(args: argparse.Namespace) -> int:
    figures = measure(args.members, args.per_member, args.cards, lambda t: print(t, flush=True))
    for key, seconds in figures:
        print(f"{key} {seconds:.2f}")
    return 0
