"""The locking model (``server.db``): reads never wait for a writer; a write that cannot get
the lock in time answers 503 and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.app import create_app
from server.audit.models import AuditEntry
from server.db import engine as db_engine
from server.db import sqlite as sqlite_setup
from server.members.models import Member
from tests.card_fixtures import issued_token
from tests.check_fixtures import code_for, make_verified
from tests.db_fixtures import long_write
from tests.factories import csrf_from, login, make_member, make_staff


async def test_pages_cards_and_checks_answer_while_a_long_write_is_in_progress(
    app, client, db, settings, database_url
):
    staff = await make_staff(db, ["manage_members", "manage_groups"])
    member = await make_verified(db, sca_name="Unblocked")
    token = await issued_token(db, settings, member)
    await login(client, staff.email)
    await db.commit()
    async with long_write(database_url):
        for path in ("/members", "/members?q=Unblocked", f"/members/{member.id}", "/groups"):
            response = await client.get(path)
            assert response.status_code == 200, path
        assert "Unblocked" in (await client.get("/members?q=Unblocked")).text
        card = await client.get(f"/card/{token}.json")  # stale: built now, stored later
        assert card.status_code == 200 and card.json()["member"]["sca_name"] == "Unblocked"
        check = await client.get(f"/check/{code_for(app, member)}")
        assert check.status_code == 200 and "Unblocked" in check.text
        async with app.state.sessionmaker() as reader:  # a read with a CTE is a read too
            named = select(Member.id, Member.sca_name).cte("named")
            found = await reader.execute(select(named.c.sca_name).where(named.c.id == member.id))
            assert found.scalar_one() == "Unblocked"


@pytest.fixture
async def impatient_app(settings, monkeypatch):
    """The app with a short busy timeout, so a test can outwait it quickly."""
    monkeypatch.setattr(sqlite_setup, "BUSY_TIMEOUT_MS", 300)
    monkeypatch.setattr(db_engine, "PG_LOCK_TIMEOUT", "300ms")
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def test_a_write_that_cannot_get_the_lock_answers_503_and_changes_nothing(
    impatient_app, database_url
):
    import httpx

    transport = httpx.ASGITransport(app=impatient_app, client=("127.0.0.1", 50000))
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        impatient_app.state.sessionmaker() as db,
    ):
        staff = await make_staff(db, ["manage_members", "verify_members"])
        member = await make_member(db)
        await db.commit()
        await login(client, staff.email)
        token = await csrf_from(client, f"/members/{member.id}/status")
        async with long_write(database_url):
            response = await client.post(
                f"/members/{member.id}/deactivate",
                data={"csrf_token": token, "version": member.version, "reason": "Busy day"},
            )
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
        assert "Nothing was saved" in response.text
        await db.refresh(member)
        assert member.status == "active"
        audits = await db.scalar(
            select(func.count()).where(AuditEntry.action == "member.deactivate")
        )
        assert audits == 0
        # Once the other writer is done, the same action goes through.
        token = await csrf_from(client, f"/members/{member.id}/status")
        await db.commit()
        response = await client.post(
            f"/members/{member.id}/deactivate",
            data={"csrf_token": token, "version": member.version, "reason": "Busy day"},
        )
        assert response.status_code == 303
        await db.refresh(member)
        assert member.status == "deactivated"


async def test_a_read_transaction_does_not_keep_a_writer_waiting(app, db):
    """A session that has read (a page being rendered) and a session that writes: the
    writer goes ahead; once the reader writes too, it reads the writer's change (what
    PostgreSQL's READ COMMITTED gives)."""
    member, other = await make_member(db, city="Before"), await make_member(db)
    await db.commit()
    async with app.state.sessionmaker() as reader, app.state.sessionmaker() as writer:
        assert await reader.scalar(select(Member.city).where(Member.id == member.id)) == "Before"
        mine = await writer.get(Member, member.id)
        assert mine is not None
        mine.city = "Written"
        await writer.commit()  # did not wait for the reader
        theirs = await reader.get(Member, other.id)
        assert theirs is not None
        theirs.public_notes = "the reader writes too"
        await reader.flush()
        assert await reader.scalar(select(Member.city).where(Member.id == member.id)) == "Written"
        await reader.commit()


async def test_a_session_due_for_its_last_seen_write_still_gets_pages_during_a_long_write(
    impatient_app, database_url
):
    """A logged-in officer's session writes its last-seen time every few minutes of use;
    that write once waited for the busy database like any other and the page view, a
    read, answered 503. Now it is skipped while the database is busy, and made at the
    next page view that finds it free."""
    import datetime as dt

    import httpx
    from sqlalchemy import update

    from server.auth.models import LoginSession
    from server.auth.sessions import TOUCH_EVERY
    from server.database import utcnow

    transport = httpx.ASGITransport(app=impatient_app, client=("127.0.0.1", 50000))
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        impatient_app.state.sessionmaker() as db,
    ):
        staff = await make_staff(db, ["manage_members"])
        member = await make_member(db, sca_name="Seen Later")
        await db.commit()
        await login(client, staff.email)
        earlier = utcnow() - TOUCH_EVERY - dt.timedelta(minutes=1)
        await db.execute(update(LoginSession).values(last_seen_at=earlier))
        await db.commit()
        async with long_write(database_url, also=("login_sessions",)):
            for path in ("/members", f"/members/{member.id}", "/members?q=Seen"):
                response = await client.get(path)
                assert response.status_code == 200, path
        seen = select(LoginSession.last_seen_at).where(LoginSession.member_id == staff.id)
        assert await db.scalar(seen) == earlier  # nothing was written meanwhile
        await db.commit()
        assert (await client.get("/members")).status_code == 200
        assert await db.scalar(seen) > earlier  # written once the database was free
