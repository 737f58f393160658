"""``find_checker``: the logged-in member behind a session, read on the hot connection."""

from __future__ import annotations

import datetime as dt

from server.auth import sessions
from server.checks.checker import find_checker
from server.groups.models import GroupMembership
from server.members.models import Member
from tests.factories import make_group, make_member

TODAY = dt.date.today()
DAY = dt.timedelta(days=1)


async def _join(db, member: Member, group, **kw) -> None:
    db.add(GroupMembership(group_id=group.id, member_id=member.id, since=dt.date(2000, 1, 1), **kw))
    await db.flush()


async def test_permissions_come_from_every_current_group_and_only_those(app, db):
    marshals = await make_group(db, permissions=["check_cards"])
    office = await make_group(
        db, permissions=["view_reports"], chair_permissions=["manage_members"]
    )
    former = await make_group(db, permissions=["manage_groups"])
    closed = await make_group(db, permissions=["issue_card_links"], until=TODAY - DAY)
    future = await make_group(db, permissions=["export_members"], since=TODAY + DAY)
    maud = await make_member(
        db,
        sca_name="Marshal Maud",
        membership_number="M-1",
        membership_expires_on=TODAY + 100 * DAY,
        verified_at=dt.datetime.now(dt.UTC),
    )
    await _join(db, maud, marshals)
    await _join(db, maud, office, is_chair=True)
    await _join(db, maud, former, until=TODAY - DAY)
    await _join(db, maud, closed)
    await _join(db, maud, future)
    plain = await make_member(db, first_name="Plain", last_name="Pat", sca_name=None)
    root = await make_member(db, is_superuser=True)
    sids = {m.id: await sessions.begin(db, m) for m in (maud, plain, root)}
    await db.commit()
    now = dt.datetime.now(dt.UTC)
    hot = app.state.hot

    found = await find_checker(hot, sids[maud.id], now, TODAY)
    assert found is not None and found.name == "Marshal Maud" and found.staff
    assert found.permissions == {"check_cards", "view_reports", "manage_members"}
    plain_found = await find_checker(hot, sids[plain.id], now, TODAY)
    assert plain_found is not None and plain_found.name == "Plain Pat"
    assert plain_found.permissions == frozenset() and not plain_found.staff
    root_found = await find_checker(hot, sids[root.id], now, TODAY)
    assert (
        root_found is not None and root_found.staff and "manage_members" in root_found.permissions
    )
    assert await find_checker(hot, "no-such-session", now, TODAY) is None

    await sessions.end(db, sids[maud.id], "logout")
    await db.commit()
    assert await find_checker(hot, sids[maud.id], now, TODAY) is None
