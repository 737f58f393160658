from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from server.db.transactions import lock_for_write
from server.members.models import Member
from server.nightly import registry, scheduler
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


async def test_a_run_for_a_later_date_does_not_stop_the_daily_runs(app, recorded_jobs):
    """``manage.py nightly --date`` for a day ahead (an operator trying a job, a test of
    the nightly age-up) must not make the server's own scheduler think today's run is
    done: age-up, expiries and staff sync would then wait until that later day."""
    sm = app.state.sessionmaker
    today = dt.date(2030, 8, 1)
    assert (await run_nightly(sm, today + dt.timedelta(days=40))).ran
    assert (await tick(app, today)).ran
    assert not (await tick(app, today)).ran  # and then once a day, as before
    assert recorded_jobs == ["first", "first"]


async def test_concurrent_ticks_run_the_jobs_once(app, recorded_jobs):
    runs = await asyncio.gather(*(tick(app, dt.date(2030, 6, 1)) for _ in range(4)))
    assert sum(r.ran for r in runs) == 1
    assert recorded_jobs == ["first"]


async def test_a_job_that_succeeded_for_a_date_is_not_run_again_unless_forced(app, recorded_jobs):
    sm = app.state.sessionmaker
    day = dt.date(2030, 7, 1)
    first = await run_nightly(sm, day)
    assert recorded_jobs == ["first"] and first.failed
    # Run again for the same date (cron beside the server, or an operator): the job
    # that succeeded is skipped, the one that failed runs again.
    again = await run_nightly(sm, day)
    assert recorded_jobs == ["first"]
    assert dict(again.results)["test_first"] == "skipped: already succeeded for 2030-07-01"
    assert "FAILED" in dict(again.results)["test_broken"] and "test_broken" not in again.skipped
    # Another date is another day; --force runs everything again.
    await run_nightly(sm, day + dt.timedelta(days=1))
    forced = await run_nightly(sm, day, force=True)
    assert recorded_jobs == ["first", "first", "first"] and not forced.skipped


def test_two_nightly_commands_started_together_run_each_job_once(
    database_url, tmp_path, sqlite_only
):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "TESSERA_DATA_DIR": str(tmp_path),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "nightly-secret-" + "n" * 32,
    }
    command = [sys.executable, "manage.py", "nightly", "--date", "2030-08-01"]
    # Two rounds: the first races for the jobs, the second finds them done (a third
    # round, as there once was, repeated the second exactly: two more process starts).
    for _round in range(2):
        runs = [
            subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=120)[0] for run in runs]
        ran = [
            line.split(":", 1)[0]
            for out in outputs
            for line in out.splitlines()
            if ": " in line
            and "skipped" not in line
            and not line.startswith("Nightly jobs not run")
        ]
        assert len(ran) == len(set(ran)), outputs  # no job twice in one round
        if _round == 0:
            assert "age_up" in ran, outputs
        else:
            assert ran == [], outputs  # nor on another run for the same date
    forced = subprocess.run(
        [*command, "--force"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert forced.returncode == 0 and "age_up: " in forced.stdout and "skipped" not in forced.stdout


async def test_a_stopping_server_stops_while_its_nightly_tick_waits_for_the_database(
    app, monkeypatch
):
    """SIGTERM to ``serve --workers 2`` while one worker's scheduler waited for the
    nightly lock (the other worker held the database): the cancelled statement left the
    SQLite connection invalid, its rollback raised PendingRollbackError in place of the
    cancellation, the loop logged "tick failed" and slept ten minutes, and the worker
    never stopped (uvicorn waits for the app's shutdown for ever)."""
    monkeypatch.setattr(scheduler.random, "uniform", lambda a, b: 0.0)
    sm = app.state.sessionmaker
    await acquire(sm, "setup", dt.date(2030, 1, 1), only_if_due=False)  # the lock row
    async with sm() as other, other.begin():
        await lock_for_write(other)  # the other worker, mid-write
        await other.execute(select(JobLock).with_for_update())
        loop = asyncio.create_task(scheduler.daily_nightly_jobs(app))
        await asyncio.sleep(0.5)  # waiting for the lock now
        loop.cancel()  # the server stops
        done, _ = await asyncio.wait([loop], timeout=8)
    assert done, "the nightly loop did not stop when the server did"
    assert loop.cancelled(), loop.exception()


async def test_jobs_a_stopping_server_did_not_reach_run_at_the_next_wake(app):
    """A deploy restarts the server while its nightly run is half done: the lock was
    released with the day marked as run, so the scheduler skipped the jobs it had not
    reached until the next day. Now the next wake (of any worker) runs them, and only
    them."""
    today = dt.date(2030, 6, 3)
    reached: list[str] = []
    stop_here = asyncio.Event()

    async def long_job(db, day):
        reached.append("long")
        if len(reached) == 1:
            stop_here.set()
            await asyncio.Event().wait()  # the server stops while it runs
        return "long job done"

    registry.register(registry.NightlyJob("test_long", 1000, long_job))
    try:
        first = asyncio.create_task(tick(app, today))
        await asyncio.wait_for(stop_here.wait(), 30)
        first.cancel()  # SIGTERM
        with pytest.raises(asyncio.CancelledError):
            await first
        again = await tick(app, today)  # the next wake, in this or another worker
        assert again.ran, again.reason
        assert dict(again.results)["test_long"] == "long job done"
        assert all(
            text.startswith("skipped") for name, text in again.results if name != "test_long"
        )
        assert not (await tick(app, today)).ran  # and then it is done for the day
    finally:
        registry._JOBS.pop("test_long")
