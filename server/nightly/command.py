"""``manage.py nightly``: run the nightly jobs now (cron-friendly; serve also runs them)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt

from server.cli import argument, command
from server.config import load_settings
from server.core_commands import prepare_database
from server.db.engine import make_engine, make_sessionmaker
from server.nightly.runner import NightlyRun, run_nightly


async def _run(url: str, today: dt.date | None) -> NightlyRun:
    engine = make_engine(url)
    try:
        return await run_nightly(make_sessionmaker(engine), today)
    finally:
        await engine.dispose()


@command("nightly", "Run the nightly jobs now (one instance at a time).")
@argument("--date", help="Run as if today were this date (YYYY-MM-DD).")
def nightly(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not prepare_database(settings.database_url):
        return 1
    today = dt.date.fromisoformat(args.date) if args.date else None
    run = asyncio.run(_run(settings.database_url, today))
    if not run.ran:
        print(f"Nightly jobs not run: {run.reason}.")
        return 1
    for name, summary in run.results:
        print(f"{name}: {summary}")
    return 1 if run.failed else 0
