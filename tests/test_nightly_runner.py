from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from server.members.models import Member
from server.nightly import registry
from server.nightly.models import JobLock
from server.nightly.runner import acquire, run_nightly
from server.nightly.scheduler import tick


@pytest.fixture
def recorded_jobs():
    """Two extra jobs, one failing, registered for the test only."""
    calls: list[str] = []

    async def first(db, today):
        db.add(Member(email="job@example.org", email_key="job@example.org", sca_name="From job"))
        calls.append("first")
        return "made one member"

    async def broken(db, today):
        db.add(Member(email="half@example.org", email_key="half@example.org"))
        await db.flush()
        raise RuntimeError("boom")

    registry.register(registry.NightlyJob("test_first", 1, first))
    registry.register(registry.NightlyJob("test_broken", 2, broken))
    yield calls
    registry._JOBS.pop("test_first")
    registry._JOBS.pop("test_broken")


async def test_jobs_run_in_order_each_in_its_own_transaction(app, db, recorded_jobs):
    run = await run_nightly(app.state.sessionmaker, dt.date(2030, 5, 1))
    names = [name for name, _ in run.results]
    assert names[:2] == ["test_first", "test_broken"] and "staff_sync" in names
    assert run.failed and "FAILED: RuntimeError: boom" in dict(run.results)["test_broken"]
    emails = set((await db.execute(select(Member.email))).scalars())
    assert "job@example.org" in emails and "half@example.org" not in emails
    lock = await db.get(JobLock, "nightly")
    assert lock.last_run_on == dt.date(2030, 5, 1) and lock.locked_until is None
    assert "made one member" in lock.last_result


async def test_one_instance_at_a_time_and_once_a_day(app, recorded_jobs):
    sm = app.state.sessionmaker
    today = dt.date(2030, 5, 2)
    # Someone else holds the lock: neither the scheduler nor the command runs.
    assert await acquire(sm, "other-host:1", today, only_if_due=False)
    assert not (await run_nightly(sm, today)).ran
    assert not (await tick(app, today)).ran
    assert recorded_jobs == []
    # An expired lock (its holder died) is taken over.
    async with sm() as db, db.begin():
        lock = await db.get(JobLock, "nightly")
        lock.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert (await tick(app, today)).ran
    assert not (await tick(app, today)).ran  # already ran today
    assert (await tick(app, today + dt.timedelta(days=1))).ran
    assert recorded_jobs == ["first", "first"]


async def test_concurrent_ticks_run_the_jobs_once(app, recorded_jobs):
    runs = await asyncio.gather(*(tick(app, dt.date(2030, 6, 1)) for _ in range(4)))
    assert sum(r.ran for r in runs) == 1
    assert recorded_jobs == ["first"]
