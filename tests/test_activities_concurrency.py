"""Two authorizers approving the same request at the same moment are both counted.

Real concurrent transactions on PostgreSQL: the first voter holds the request's row lock;
the test waits until PostgreSQL reports the second voter blocked on it, commits the
first, and checks that the second then sees both votes and activates the request once.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select, text

from server.plugins.activities.decisions import vote
from server.plugins.activities.models import APPROVED, Authorization, AuthorizationVote
from server.plugins.activities.requests import request_authorization
from tests.activities_fixtures import make_activity, make_authorizer
from tests.factories import make_member

TODAY = dt.date.today()


async def _setup(db, approvals_new=2):
    activity = await make_activity(db, name="Armored", approvals_new=approvals_new)
    member = await make_member(db)
    first, second = await make_authorizer(db), await make_authorizer(db)
    auth = await request_authorization(
        db, member=member, activity=activity, actor=member, renewal=False, today=TODAY
    )
    await db.commit()
    return auth.id, first.id, second.id


async def _vote_in_own_session(app, auth_id, authorizer_id, commit=True):
    from server.members.models import Member

    session = app.state.sessionmaker()
    try:
        authorizer = await session.get(Member, authorizer_id)
        await vote(
            session,
            authorization_id=auth_id,
            authorizer=authorizer,
            approve=True,
            note="",
            today=TODAY,
        )
    except Exception:
        await session.close()  # rolls back and releases the lock
        raise
    if commit:
        await session.commit()
        await session.close()
    return session


@pytest.mark.postgres_only
async def test_simultaneous_approvals_are_both_counted_on_postgresql(app, db, database_url):
    auth_id, first_id, second_id = await _setup(db)
    holder = await _vote_in_own_session(app, auth_id, first_id, commit=False)  # holds the lock
    second = asyncio.create_task(_vote_in_own_session(app, auth_id, second_id))
    async with asyncio.timeout(10):
        while True:  # until PostgreSQL shows the second vote waiting on the row lock
            waiting = await db.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            await db.rollback()
            if waiting:
                break
            await asyncio.sleep(0.02)
    assert not second.done()
    await holder.commit()
    await holder.close()
    await second
    row = await db.get(Authorization, auth_id, populate_existing=True)
    assert row.status == APPROVED
    votes = await db.scalar(select(func.count()).select_from(AuthorizationVote))
    assert votes == 2


async def test_concurrent_approvals_from_many_sessions_activate_exactly_once(app, db):
    activity = await make_activity(db, name="Rapier", approvals_new=3)
    member = await make_member(db)
    marshals = [await make_authorizer(db) for _ in range(5)]
    auth = await request_authorization(
        db, member=member, activity=activity, actor=member, renewal=False, today=TODAY
    )
    await db.commit()
    results = await asyncio.gather(
        *(_vote_in_own_session(app, auth.id, m.id) for m in marshals), return_exceptions=True
    )
    decided = [r for r in results if isinstance(r, Exception)]
    assert all("already decided" in str(e) for e in decided)
    assert len(decided) == 2  # the fourth and fifth came after activation
    row = await db.get(Authorization, auth.id, populate_existing=True)
    assert row.status == APPROVED
    assert await db.scalar(select(func.count()).select_from(AuthorizationVote)) == 3
