from __future__ import annotations

import datetime as dt
import time
import urllib.request

import pytest
from sqlalchemy import select

from server.db.engine import make_engine, make_sessionmaker
from server.groups.models import GroupMembership
from server.groups.staff_sync import staff_sync_job
from server.mail.models import OutboxMessage
from server.nightly.models import JobLock
from tests.factories import make_group, make_member
from tests.live import LiveServer


async def test_nightly_staff_sync_grants_revokes_and_emails(db):
    today = dt.date(2030, 3, 1)
    group = await make_group(db)
    gaining = await make_member(db, email="gain@example.org")
    losing = await make_member(db, email="lose@example.org", is_staff=True)
    superuser = await make_member(db, email="root@example.org", is_superuser=True, is_staff=True)
    steady = await make_member(db, email="steady@example.org", is_staff=True)
    db.add(GroupMembership(group_id=group.id, member_id=gaining.id, since=today))
    db.add(GroupMembership(group_id=group.id, member_id=steady.id, since=dt.date(2020, 1, 1)))
    # Ended yesterday: no longer staff.
    db.add(
        GroupMembership(
            group_id=group.id,
            member_id=losing.id,
            since=dt.date(2020, 1, 1),
            until=today - dt.timedelta(days=1),
        )
    )
    await db.flush()

    summary = await staff_sync_job(db, today)
    assert summary == "staff granted to 1, revoked from 1"
    for member in (gaining, losing, superuser, steady):
        await db.refresh(member)
    assert gaining.is_staff and not losing.is_staff and superuser.is_staff and steady.is_staff
    mails = (await db.execute(select(OutboxMessage.to_addr, OutboxMessage.kind))).all()
    assert sorted(mails) == [
        ("gain@example.org", "staff_granted"),
        ("lose@example.org", "staff_revoked"),
    ]
    # A second run changes nothing and sends nothing.
    assert await staff_sync_job(db, today) == "staff granted to 0, revoked from 0"


def test_serve_runs_the_nightly_jobs_by_itself(database_url, tmp_path, sqlite_only):
    server = LiveServer(tmp_path, database_url, {"TESSERA_BACKGROUND_JOBS": "true"})
    server.start()
    try:
        import asyncio

        async def last_run() -> dt.date | None:
            engine = make_engine(database_url)
            async with make_sessionmaker(engine)() as db:
                lock = await db.get(JobLock, "nightly")
                result = lock.last_run_on if lock else None
            await engine.dispose()
            return result

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if asyncio.run(last_run()) == dt.date.today():
                break
            time.sleep(0.25)
        else:
            pytest.fail("serve did not run the nightly jobs: " + server.log()[-2000:])
        urllib.request.urlopen(server.url + "/login", timeout=5).read()
    finally:
        server.stop()
