"""Running the nightly jobs: one instance at a time, each job in its own transaction.

The lock is the ``job_locks`` row named ``nightly``; taking it is one conditional
UPDATE, so two processes (or two servers on one PostgreSQL) never run the jobs at
the same time. A lock whose holder died expires after ``LOCK_TTL``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import socket
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.database import utcnow
from server.nightly.models import JobLock
from server.nightly.registry import jobs

log = logging.getLogger("tessera.nightly")

# Modules that register nightly jobs (``@nightly_job``); each area adds its own.
JOB_MODULES: list[str] = [
    "server.groups.staff_sync",
    "server.members.ageup",
    "server.applicants.recap",
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


async def _ensure_lock_row(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
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
        conditions.append(or_(JobLock.last_run_on.is_(None), JobLock.last_run_on < today))
    async with sessionmaker() as db, db.begin():
        result = await db.execute(
            update(JobLock).where(*conditions).values(holder=holder, locked_until=now + LOCK_TTL)
        )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def release(
    sessionmaker: async_sessionmaker[AsyncSession], holder: str, today: dt.date, summary: str
) -> None:
    async with sessionmaker() as db, db.begin():
        await db.execute(
            update(JobLock)
            .where(JobLock.name == LOCK_NAME, JobLock.holder == holder)
            .values(
                holder=None,
                locked_until=None,
                last_run_on=today,
                last_finished_at=utcnow(),
                last_result=summary[:4000],
            )
        )


async def run_jobs(sessionmaker: async_sessionmaker[AsyncSession], today: dt.date) -> NightlyRun:
    """Every registered job in order, each in its own transaction; a failure rolls back
    that job only, is logged, and the others still run."""
    run = NightlyRun(ran=True)
    for job in jobs():
        async with sessionmaker() as db:
            try:
                summary = await job.run(db, today)
                await db.commit()
            except Exception as exc:
                await db.rollback()
                log.exception("nightly job %s failed", job.name)
                summary = f"FAILED: {type(exc).__name__}: {exc}"[:500]
                run.failed = True
        run.results.append((job.name, summary))
    return run


async def run_nightly(
    sessionmaker: async_sessionmaker[AsyncSession],
    today: dt.date | None = None,
    *,
    only_if_due: bool = False,
    holder: str | None = None,
) -> NightlyRun:
    """Take the lock, run the jobs, record the outcome, release the lock.

    ``only_if_due`` (the scheduler inside ``serve``) skips when the jobs already ran
    today; ``manage.py nightly`` runs them again whenever asked.
    """
    load_jobs()
    today = today or dt.date.today()
    holder = holder or holder_name()
    if not await acquire(sessionmaker, holder, today, only_if_due=only_if_due):
        reason = "already ran today" if only_if_due else "another instance is running them"
        return NightlyRun(ran=False, reason=reason)
    run = NightlyRun(ran=True)
    try:
        run = await run_jobs(sessionmaker, today)
    finally:
        summary = "; ".join(f"{name}: {text}" for name, text in run.results)
        await release(sessionmaker, holder, today, summary)
    return run


async def last_run(db: AsyncSession) -> JobLock | None:
    return (await db.execute(select(JobLock).where(JobLock.name == LOCK_NAME))).scalar_one_or_none()
