"""Two admins saving one new name at the same moment, on PostgreSQL.

Both requests check that the name is free before they write; on PostgreSQL each check
reads before the other commits, so both pass and the second insert meets the unique
index. The test holds the first insert open in its own session, waits until PostgreSQL
shows the form's insert blocked on it, commits the first, and looks at what the second
admin gets: a 409 saying someone else saved it and nothing was saved (it was a 500).
Saves that take a table lock first (groups, branches, agreements) never get this far;
the answer covers every other unique index (here: activity groups).
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from server.plugins.activities.models import ActivityGroup
from tests.db_fixtures import until_someone_waits_for_a_lock
from tests.factories import csrf_from, login, make_staff


@pytest.mark.postgres_only
async def test_one_name_saved_twice_at_once_answers_409(app, client, db, database_url):
    admin = await make_staff(db, ["manage_activities"])
    await db.commit()
    await login(client, admin.email)
    token = await csrf_from(client, "/activities/admin/groups/new")
    holder = app.state.sessionmaker()
    holder.add(ActivityGroup(name="Rapier", description="the first"))
    await holder.flush()  # inserted, not committed: the index entry is held
    saving = asyncio.create_task(
        client.post(
            "/activities/admin/groups/new",
            data={"csrf_token": token, "name": "Rapier", "description": "the second"},
        )
    )
    try:
        await until_someone_waits_for_a_lock(db, unless=saving)
        assert not saving.done()
        await holder.commit()
    finally:
        await holder.close()
    response = await saving
    assert response.status_code == 409
    assert "Someone else saved the same thing at the same moment" in response.text
    assert "Nothing was saved" in response.text
    rows = (await db.execute(select(ActivityGroup.description))).scalars().all()
    assert rows == ["the first"]
