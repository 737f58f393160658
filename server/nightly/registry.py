"""The nightly job list: core areas and plugins register jobs the same way.

A job is ``async def job(db: AsyncSession, today: date) -> str``: it works set-based over
the whole register and returns a one-line summary for the console and the job log. What
it leaves uncommitted the runner commits; a job that may change many rows commits in
chunks (``server.nightly.chunks.in_chunks``), so no transaction holds the database long.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

JobFunc = Callable[[AsyncSession, dt.date], Awaitable[str]]


@dataclass(frozen=True)
class NightlyJob:
    name: str
    order: int
    run: JobFunc


_JOBS: dict[str, NightlyJob] = {}


def nightly_job(name: str, order: int = 100) -> Callable[[JobFunc], JobFunc]:
    """Register a nightly job; lower ``order`` runs first (age-up before staff sync …)."""

    def decorator(func: JobFunc) -> JobFunc:
        _JOBS[name] = NightlyJob(name, order, func)
        return func

    return decorator


def register(job: NightlyJob) -> None:
    _JOBS[job.name] = job


def unregister(name: str) -> None:
    _JOBS.pop(name, None)


def jobs() -> list[NightlyJob]:
    return sorted(_JOBS.values(), key=lambda j: (j.order, j.name))
