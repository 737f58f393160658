"""``manage.py nightly``: run the nightly jobs now (cron-friendly; serve also runs them)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys

from server.cli import argument, command
from server.config import load_settings
from server.core_commands import prepare_database
from server.db.engine import make_engine, make_sessionmaker
from server.nightly.runner import NightlyRun, run_nightly

MAX_DAYS_AWAY = 3653  # ten years: --date further off is a typo, not a catch-up or a trial


async def _run(url: str, today: dt.date | None, force: bool) -> NightlyRun:
    engine = make_engine(url)
    try:
        return await run_nightly(make_sessionmaker(engine), today, force=force)
    finally:
        await engine.dispose()


@command("nightly", "Run the nightly jobs now (one instance at a time).")
@argument("--date", help="Run as if today were this date (YYYY-MM-DD).")
@argument(
    "--force",
    action="store_true",
    help="Run every job again, even those that already succeeded for this date.",
)
def nightly(args: argparse.Namespace) -> int:
    try:
        today = dt.date.fromisoformat(args.date) if args.date else None
    except ValueError:
        print(f"--date {args.date!r}: give a date as YYYY-MM-DD.", file=sys.stderr)
        return 2
    if today is not None and abs((today - dt.date.today()).days) > MAX_DAYS_AWAY:
        # The jobs act as if it were that day: staff access ends for memberships not
        # current then, members age, records "older than" it are deleted. Year 1 failed
        # with an OverflowError after staff_sync had revoked every officer.
        print(
            f"--date {today.isoformat()} is more than ten years from today "
            f"({dt.date.today().isoformat()}): a typo?\nNothing was run: the jobs would act "
            "as if it were that day (staff access, ages, expiries, retention).",
            file=sys.stderr,
        )
        return 2
    settings = load_settings()
    if not prepare_database(settings.database_url):
        return 1
    run = asyncio.run(_run(settings.database_url, today, args.force))
    if not run.ran:
        print(f"Nightly jobs not run: {run.reason}.")
        return 1
    for name, summary in run.results:
        print(f"{name}: {summary}")
    if run.skipped:
        print("Jobs that already succeeded for this date were skipped (--force runs them again).")
    return 1 if run.failed else 0
