"""Running the nightly jobs: one instance at a time, each job in its own transaction,
each job at most once per date.

The lock is the ``job_locks`` row named ``nightly``; taking it is one conditional
UPDATE, so two processes (or two servers on one PostgreSQL) never run the jobs at
the same time. A lock whose holder died expires after ``LOCK_TTL``.

Under the lock, every job's outcome is recorded per date (``nightly_job_runs``): a
job that already succeeded for the date is skipped, so two runs started together, a
cron entry beside the server's own scheduler, or a rerun after one job failed, run
each job once (the failed one again). ``force`` runs them all regardless. Every
job's summary (or failure) is logged.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import logging
import os
import socket
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import clock
from server.database import utcnow
from server.db.busy import retry_when_busy
from server.db.rowcount import rowcount
from server.nightly.models import JobLock, NightlyJobRun
from server.nightly.registry import jobs
from server.settings.store import load_settings

log = logging.getLogger("tessera.nightly")

# Modules that register nightly jobs (``@nightly_job``); each area adds its own.
JOB_MODULES: list[str] = [
    "server.groups.staff_sync",
    "server.members.ageup",
    "server.applicants.recap",
    "server.nightly.retention",
    "server.auth.sessions",
]
LOCK_NAME = "nightly"
LOCK_TTL = dt.timedelta(hours=2)


def load_jobs() -> None:
    from server.plugins import registry as plugins

    for name in JOB_MODULES:
        importlib.import_module(name)
    plugins.discover()  # plugins' jobs join through their contract


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


@dataclass
class NightlyRun:
    ran: bool
    results: list[tuple[str, str]] = field(default_factory=list)
    failed: bool = False
    reason: str = ""
    skipped: list[str] = field(default_factory=list)


async def _ensure_lock_row(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await retry_when_busy(lambda: _make_lock_row(sessionmaker), what="nightly lock")


async def _make_lock_row(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as db:
        if await db.get(JobLock, LOCK_NAME) is not None:
            return
        db.add(JobLock(name=LOCK_NAME))
        try:
            await db.commit()
        except IntegrityError:  # another process made it first
            await db.rollback()


async def acquire(
    sessionmaker: async_sessionmaker[AsyncSession],
    holder: str,
    today: dt.date,
    *,
    only_if_due: bool,
) -> bool:
    """Take the lock (and, with ``only_if_due``, only if the jobs have not run today)."""
    await _ensure_lock_row(sessionmaker)
    now = utcnow()
    conditions = [
        JobLock.name == LOCK_NAME,
        or_(JobLock.locked_until.is_(None), JobLock.locked_until < now),
    ]
    if only_if_due:
        # Not run *for* today: a run for another date (``nightly --date`` ahead, for a
        # test, or back, catching up) does not stand for today's (``<`` would leave the
        # scheduler idle until that later date came).
        conditions.append(or_(JobLock.last_run_on.is_(None), JobLock.last_run_on != today))

    async def take() -> bool:
        async with sessionmaker() as db, db.begin():
            result = await db.execute(
                update(JobLock)
                .where(*conditions)
                .values(holder=holder, locked_until=now + LOCK_TTL)
            )
        return rowcount(result) == 1

    return await retry_when_busy(take, what="nightly lock")


async def release(
    sessionmaker: async_sessionmaker[AsyncSession],
    holder: str,
    today: dt.date | None,
    summary: str,
) -> None:
    """Hand the lock back; with ``today``, mark the jobs as run for that date."""
    await retry_when_busy(
        lambda: _release(sessionmaker, holder, today, summary), what="nightly lock"
    )


async def _release(
    sessionmaker: async_sessionmaker[AsyncSession],
    holder: str,
    today: dt.date | None,
    summary: str,
) -> None:
    values: dict[str, object] = {"holder": None, "locked_until": None}
    if today is not None:
        values |= {
            "last_run_on": today,
            "last_finished_at": utcnow(),
            "last_result": summary[:4000],
        }
    async with sessionmaker() as db, db.begin():
        await db.execute(
            update(JobLock)
            .where(JobLock.name == LOCK_NAME, JobLock.holder == holder)
            .values(values)
        )


async def _succeeded(
    sessionmaker: async_sessionmaker[AsyncSession], job: str, today: dt.date
) -> bool:
    async with sessionmaker() as db:
        run = await db.get(NightlyJobRun, (job, today))
        return run is not None and run.status == "succeeded"


@dataclass(frozen=True)
class JobOutcome:
    job: str
    run_on: dt.date
    holder: str
    started: dt.datetime
    failed: bool
    summary: str


async def _record(sessionmaker: async_sessionmaker[AsyncSession], outcome: JobOutcome) -> None:
    async with sessionmaker() as db, db.begin():
        run = await db.get(NightlyJobRun, (outcome.job, outcome.run_on))
        if run is None:
            run = NightlyJobRun(job=outcome.job, run_on=outcome.run_on)
            db.add(run)
        run.status = "failed" if outcome.failed else "succeeded"
        run.holder = outcome.holder
        run.started_at = outcome.started
        run.finished_at = utcnow()
        run.summary = outcome.summary[:4000]


async def run_jobs(
    sessionmaker: async_sessionmaker[AsyncSession],
    today: dt.date,
    *,
    force: bool = False,
    holder: str = "",
) -> NightlyRun:
    """Every registered job in order, each in its own transactions; a failure rolls back
    what that job had not committed, is logged, and the others still run. A job that
    already succeeded for ``today`` is skipped unless ``force``. Call with the lock held."""
    run = NightlyRun(ran=True)
    for job in jobs():
        started = utcnow()
        done = functools.partial(_succeeded, sessionmaker, job.name, today)
        if not force and await retry_when_busy(done, what="nightly record"):
            summary = f"skipped: already succeeded for {today.isoformat()}"
            run.results.append((job.name, summary))
            run.skipped.append(job.name)
            log.info("nightly %s for %s: %s", job.name, today, summary)
            continue
        async with sessionmaker() as db:
            failed = False
            try:
                summary = await job.run(db, today)
                await db.commit()
                log.info("nightly %s for %s: %s", job.name, today, summary)
            except Exception as exc:
                await db.rollback()
                log.exception("nightly %s for %s failed", job.name, today)
                summary = f"FAILED: {type(exc).__name__}: {exc}"[:500]
                run.failed = failed = True
        outcome = JobOutcome(job.name, today, holder, started, failed, summary)
        await retry_when_busy(functools.partial(_record, sessionmaker, outcome), what="nightly")
        run.results.append((job.name, summary))
    return run


async def run_nightly(
    sessionmaker: async_sessionmaker[AsyncSession],
    today: dt.date | None = None,
    *,
    only_if_due: bool = False,
    holder: str | None = None,
    force: bool = False,
) -> NightlyRun:
    """Take the lock, run the jobs, record the outcome, release the lock.

    ``only_if_due`` (the scheduler inside ``serve``) does not even take the lock when
    the jobs already ran today; ``manage.py nightly`` runs what has not succeeded for
    the date yet, and everything again with ``force``.
    """
    load_jobs()
    if today is None:
        async with sessionmaker() as db:
            today = clock.today(await load_settings(db))
    holder = holder or holder_name()
    if not await acquire(sessionmaker, holder, today, only_if_due=only_if_due):
        reason = "already ran today" if only_if_due else "another instance is running them"
        if not only_if_due:  # the scheduler asks every few minutes: not worth a line
            log.info("nightly jobs for %s not run: %s", today, reason)
        return NightlyRun(ran=False, reason=reason)
    run = NightlyRun(ran=True)
    finished = False
    try:
        run = await run_jobs(sessionmaker, today, force=force, holder=holder)
        finished = True
    finally:
        # Stopped part-way (the server stopping, the database gone): the lock is handed
        # back but the day is not marked as run, so the scheduler's next wake runs the
        # jobs that had not succeeded yet (those that had are skipped).
        summary = "; ".join(f"{name}: {text}" for name, text in run.results)
        await release(sessionmaker, holder, today if finished else None, summary)
    return run


async def last_run(db: AsyncSession) -> JobLock | None:
    return (await db.execute(select(JobLock).where(JobLock.name == LOCK_NAME))).scalar_one_or_none()
