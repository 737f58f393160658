"""The group-membership rules of brief §5, on both databases and under concurrency."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select, text

from server.groups.models import GroupMembership
from server.groups.service import (
    GroupRuleError,
    MembershipValues,
    add_membership,
    end_membership,
    update_membership,
)
from server.mail.models import OutboxMessage
from tests.factories import make_group, make_member

TODAY = dt.date(2030, 6, 15)
D = dt.date


def values(since, until=None, role="", chair=False):
    return MembershipValues(since, until, role, chair)


async def test_rules_refuse_bad_periods_overlaps_and_second_chairs(db):
    group = await make_group(db, since=D(2030, 1, 1), until=D(2030, 12, 31))
    anna, bert = await make_member(db), await make_member(db)
    add = lambda m, v: add_membership(db, group.id, m, v, actor_id=None, today=TODAY)  # noqa: E731

    with pytest.raises(GroupRuleError, match="before the start date"):
        await add(anna, values(D(2030, 5, 1), D(2030, 4, 1)))
    with pytest.raises(GroupRuleError, match="before the group does"):
        await add(anna, values(D(2029, 12, 1), D(2030, 3, 1)))
    with pytest.raises(GroupRuleError, match="must end by then"):
        await add(anna, values(D(2030, 2, 1), D(2031, 1, 1)))
    first = await add(anna, values(D(2030, 2, 1), D(2030, 6, 30), chair=True))
    with pytest.raises(GroupRuleError, match="may not overlap"):
        await add(anna, values(D(2030, 6, 30), D(2030, 8, 1)))
    with pytest.raises(GroupRuleError, match="one chair at a time"):
        await add(bert, values(D(2030, 6, 1), D(2030, 7, 1), chair=True))
    # Back to back is fine, and so is a second chair after the first one's term.
    await add(anna, values(D(2030, 7, 1), D(2030, 8, 1)))
    await add(bert, values(D(2030, 7, 1), D(2030, 12, 31), chair=True))
    assert first.granted_by_id is None and first.is_chair


async def test_an_open_ended_membership_runs_until_its_group_ends(db):
    """Open-ended within an open-ended group; the group's end date otherwise (also on edit)."""
    ending = await make_group(db, since=D(2030, 1, 1), until=D(2030, 12, 31))
    lasting = await make_group(db, since=D(2030, 1, 1))
    anna = await make_member(db)
    in_ending = await add_membership(
        db, ending.id, anna, values(D(2030, 2, 1)), actor_id=None, today=TODAY
    )
    in_lasting = await add_membership(
        db, lasting.id, anna, values(D(2030, 2, 1)), actor_id=None, today=TODAY
    )
    assert in_ending.until == D(2030, 12, 31)
    assert in_lasting.until is None
    await update_membership(
        db, in_ending, values(D(2030, 3, 1), role="Deputy"), actor_id=None, today=TODAY
    )
    assert (in_ending.since, in_ending.until, in_ending.role) == (
        D(2030, 3, 1),
        D(2030, 12, 31),
        "Deputy",
    )


async def test_ending_sets_until_and_keeps_the_row(db):
    group = await make_group(db)
    actor = await make_member(db)
    member = await make_member(db)
    membership = await add_membership(
        db, group.id, member, values(D(2030, 1, 1)), actor_id=actor.id, today=TODAY
    )
    assert await end_membership(db, membership, TODAY, actor_id=actor.id, today=TODAY)
    assert membership.until == TODAY and membership.ended_by_id == actor.id
    with pytest.raises(GroupRuleError, match="use Edit to extend"):
        await end_membership(
            db, membership, TODAY + dt.timedelta(days=1), actor_id=None, today=TODAY
        )
    with pytest.raises(GroupRuleError, match="before the start date"):
        await end_membership(db, membership, D(2029, 1, 1), actor_id=None, today=TODAY)
    assert await db.scalar(select(func.count()).select_from(GroupMembership)) == 1


async def test_membership_changes_sync_staff_and_email(db):
    group = await make_group(db)
    member = await make_member(db)
    membership = await add_membership(
        db, group.id, member, values(D(2030, 1, 1)), actor_id=None, today=TODAY
    )
    assert member.is_staff
    await end_membership(db, membership, TODAY - dt.timedelta(days=1), actor_id=None, today=TODAY)
    await db.refresh(member)
    assert not member.is_staff
    kinds = (await db.execute(select(OutboxMessage.kind).order_by(OutboxMessage.id))).scalars()
    assert list(kinds) == ["staff_granted", "staff_revoked"]


@pytest.mark.postgres_only
async def test_two_concurrent_requests_cannot_both_add_a_chair(app, database_url):
    """Real concurrent transactions: the second waits on the group lock, then sees the first."""
    sm = app.state.sessionmaker
    async with sm() as db:
        group = await make_group(db)
        anna, bert = await make_member(db), await make_member(db)
        await db.commit()
    first_added = asyncio.Event()

    async def first() -> None:
        async with sm() as db:
            member = await db.get(type(anna), anna.id)
            await add_membership(
                db, group.id, member, values(D(2030, 1, 1), chair=True), actor_id=None, today=TODAY
            )
            first_added.set()
            await _until_someone_waits_for_a_lock(sm)
            await db.commit()

    async def second() -> str:
        await first_added.wait()
        async with sm() as db:
            member = await db.get(type(bert), bert.id)
            try:
                await add_membership(
                    db,
                    group.id,
                    member,
                    values(D(2030, 3, 1), chair=True),
                    actor_id=None,
                    today=TODAY,
                )
                await db.commit()
                return "added"
            except GroupRuleError as exc:
                await db.rollback()
                return str(exc)

    _, outcome = await asyncio.gather(first(), second())
    assert "one chair at a time" in outcome
    async with sm() as db:
        chairs = await db.scalar(
            select(func.count()).select_from(GroupMembership).where(GroupMembership.is_chair)
        )
    assert chairs == 1


async def _until_someone_waits_for_a_lock(sm) -> None:
    """Poll pg_stat_activity until another backend is blocked on a lock (bounded)."""
    for _ in range(200):
        async with sm() as probe:
            waiting = await probe.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the second transaction never waited for the group lock")
