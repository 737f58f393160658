"""``manage.py bench-age-up``: time the nightly age-up over a large register (SQLite file).

Seeds a fresh database with N members (one in ten turning 18 this month with a parent
link, two in ten still minors, the rest adults; a few deactivated), runs the job twice
(a night with many due, then a night with none) and prints the measured seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from server.audit.models import AuditEntry
from server.cli import argument, command, positive_int
from server.db.engine import make_engine, make_sessionmaker
from server.members.ageup import age_up_register
from server.members.models import Member
from server.members.status import compute_status
from server.migrate import upgrade

BATCH = 10_000


def _row(n: int, today: dt.date) -> dict[str, Any]:
    kind = n % 10
    row: dict[str, Any] = {"email": f"bench{n}@example.org", "email_key": f"bench{n}@example.org"}
    if kind == 0:  # turns 18 this month, parent linked: due tonight
        row.update(birth_year=today.year - 18, birth_month=today.month, parent_id=1)
    elif kind in (1, 2):  # still a minor
        row.update(birth_year=today.year - 12, birth_month=today.month, parent_id=1)
    else:
        row.update(birth_year=today.year - 40, birth_month=1)
    deactivated = n % 97 == 0
    if deactivated:
        row["deactivated_at"] = dt.datetime.now(dt.UTC)
    minor = kind in (0, 1, 2)
    row["status"] = compute_status(
        deactivated=deactivated, adult=not minor, verified=False, parent_linked=minor
    )
    if minor:  # as stored yesterday
        row["status"] = compute_status(
            deactivated=deactivated, adult=False, verified=False, parent_linked=True
        )
    return row


async def run_bench(url: str, members: int, today: dt.date) -> dict[str, float]:
    await upgrade(url)
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    async with maker() as db, db.begin():
        await db.execute(insert(Member), [{"email": "parent@example.org", "email_key": "p"}])
        for start in range(2, members + 1, BATCH):
            rows = [_row(n, today) for n in range(start, min(start + BATCH, members + 1))]
            await db.execute(insert(Member), rows)
    figures: dict[str, float] = {}
    for label in ("first night", "second night"):
        started = time.perf_counter()
        async with maker() as db:  # the job commits a chunk at a time
            figures[f"{label}: members aged up"] = await age_up_register(db, today)
        figures[f"{label}: seconds"] = round(time.perf_counter() - started, 3)
    async with maker() as db:
        figures["register size"] = await db.scalar(select(func.count()).select_from(Member)) or 0
        figures["audit rows"] = await db.scalar(select(func.count()).select_from(AuditEntry)) or 0
    await engine.dispose()
    return figures


@command("bench-age-up", "Time the nightly age-up over a seeded register (SQLite).")
@argument(
    "--members", type=positive_int, default=100_000, help="Members to seed (default 100,000)."
)
def bench_age_up(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        figures = asyncio.run(run_bench(url, args.members, dt.date.today()))
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0
