"""Two admins acting on one member: one wins, the other is told to reload, nothing of theirs is written."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select, text

from server.audit.models import AuditEntry
from server.members import actions
from server.members.models import Member
from tests.factories import make_member

TODAY = dt.date.today()


async def _lock_waiters(session) -> int:
    return int(await session.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")))


@pytest.mark.postgres_only
async def test_concurrent_transactions_one_wins(app, db):
    admin_a = await make_member(db, email="a@example.org")
    admin_b = await make_member(db, email="b@example.org")
    member = await make_member(db, email="target@example.org")
    await db.commit()
    maker = app.state.sessionmaker
    async with maker() as first, maker() as second, maker() as observer:
        target_a = await first.get(Member, member.id)
        target_b = await second.get(Member, member.id)  # both read version 1
        await actions.deactivate(
            first, target_a, admin_a, expected_version=1, reason="first", today=TODAY
        )  # flushed: row locked, not committed
        b_task = asyncio.create_task(
            actions.verify_membership(
                second,
                target_b,
                admin_b,
                expected_version=1,
                number="42",
                expires_on=TODAY + dt.timedelta(days=30),
                today=TODAY,
            )
        )
        async with asyncio.timeout(10):
            while not b_task.done() and await _lock_waiters(observer) == 0:
                await observer.rollback()
                await asyncio.sleep(0.01)
        assert not b_task.done(), "the second update did not wait for the first"
        await first.commit()
        with pytest.raises(actions.StaleMember) as refused:
            await b_task
        assert "changed by someone else — reload" in refused.value.message
        await second.rollback()
    await db.refresh(member)
    assert member.status == "deactivated"
    assert member.verified_at is None and member.membership_number is None
    actions_logged = (
        (await db.execute(select(AuditEntry.action).where(AuditEntry.member_id == member.id)))
        .scalars()
        .all()
    )
    assert actions_logged == ["member.deactivate"]


async def test_update_committed_after_reading_is_detected_at_flush(app, db):
    admin = await make_member(db)
    member = await make_member(db)
    await db.commit()
    maker = app.state.sessionmaker
    async with maker() as slow, maker() as fast:
        stale = await slow.get(Member, member.id)
        await slow.commit()  # the slow admin's page was rendered from version 1
        fresh = await fast.get(Member, member.id)
        await actions.deactivate(fast, fresh, admin, expected_version=1, reason="x", today=TODAY)
        await fast.commit()
        with pytest.raises(actions.StaleMember):
            await actions.verify_membership(
                slow,
                stale,
                admin,
                expected_version=1,
                number="42",
                expires_on=TODAY + dt.timedelta(days=30),
                today=TODAY,
            )
        await slow.rollback()
    count = await db.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.member_id == member.id)
    )
    assert count == 1
