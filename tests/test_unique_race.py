"""Two officers saving the same new name at the same moment, on PostgreSQL.

Both requests check that the name is free before they write; on PostgreSQL each check
reads before the other commits, so both pass and the second insert meets the unique
index. The test holds the first insert open in its own session, waits until PostgreSQL
shows the form's insert blocked on it, commits the first, and looks at what the second
officer gets: a 409 saying someone else saved it and nothing was saved (it was a 500).
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select, text

from server.audit.models import AuditEntry
from server.groups.models import Group
from tests.factories import csrf_from, login, make_staff


async def _until_blocked(db) -> None:
    async with asyncio.timeout(10):
        while True:  # until PostgreSQL shows the form's insert waiting on the first one
            waiting = await db.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            await db.rollback()
            if waiting:
                return
            await asyncio.sleep(0.02)


@pytest.mark.postgres_only
async def test_two_groups_given_one_name_at_once_answer_409(app, client, db, database_url):
    officer = await make_staff(db, ["manage_groups"])
    await db.commit()
    await login(client, officer.email)
    token = await csrf_from(client, "/groups/new")
    first = app.state.sessionmaker()
    first.add(Group(name="Marshallate", since=dt.date(2020, 1, 1)))
    await first.flush()  # inserted, not committed: the index entry is held
    second = asyncio.create_task(
        client.post(
            "/groups/new",
            data={"csrf_token": token, "name": "Marshallate", "since": "2021-01-01"},
        )
    )
    try:
        await _until_blocked(db)
        assert not second.done()
        await first.commit()
    finally:
        await first.close()
    response = await second
    assert response.status_code == 409
    assert "Someone else saved the same thing at the same moment" in response.text
    assert "Nothing was saved" in response.text
    groups = (await db.execute(select(Group.since).where(Group.name == "Marshallate"))).all()
    assert [row.since for row in groups] == [dt.date(2020, 1, 1)]
    audit = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "group.create")
    assert await db.scalar(audit) == 0  # the first was inserted directly, the second undone
