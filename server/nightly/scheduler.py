"""The daily run inside ``serve``: wake now and then, run the nightly jobs once a day.

Every worker of every server runs this loop; the database lock lets exactly one of
them run the jobs each day, so a small deployment needs no cron.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random

from starlette.applications import Starlette

from server.db.outage import OutageLog
from server.nightly.runner import NightlyRun, run_nightly

log = logging.getLogger("tessera.nightly")

WAKE_EVERY = 600.0  # seconds; plus jitter so workers do not wake together


async def tick(app: Starlette, today: dt.date | None = None) -> NightlyRun:
    """Run the jobs if they have not run today and nobody else is running them (the
    runner logs each job's summary)."""
    return await run_nightly(app.state.sessionmaker, today, only_if_due=True)


async def daily_nightly_jobs(app: Starlette) -> None:
    outage = OutageLog(log, "nightly scheduler")
    await asyncio.sleep(random.uniform(1, 5))
    while True:
        try:
            await tick(app)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outage.failed(exc, "nightly scheduler tick failed; trying again later")
        else:
            outage.succeeded()
        await asyncio.sleep(WAKE_EVERY + random.uniform(0, 60))
