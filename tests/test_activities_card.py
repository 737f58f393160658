"""The Activities sections in the mobile card's precomputed payload, kept fresh."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from server.cards.builder import build_many, refresh
from server.cards.models import CardPayload
from server.nightly.registry import jobs
from server.plugins.activities.decisions import revoke, vote
from tests.activities_fixtures import make_activity, make_authorization, make_authorizer
from tests.factories import make_member, make_staff

TODAY = dt.date.today()


async def _sections(db, settings, member_id):
    built = await refresh(db, member_id, settings)
    return {s["key"]: s for s in json.loads(built.body)["sections"]}


async def _stale(db, member_id) -> bool:
    body = await db.scalar(
        select(CardPayload.body)
        .where(CardPayload.member_id == member_id)
        .execution_options(populate_existing=True)
    )
    return body is None


async def test_card_payload_carries_sections_and_every_change_invalidates_it(db, settings):
    member = await make_member(db)
    rapier = await make_activity(
        db, "Rapier", "Single Rapier", authorize_permission="authorize_rapier"
    )
    pending = await make_authorization(db, member, rapier, status="pending")
    marshal = await make_authorizer(db, "authorize_rapier")
    admin = await make_staff(db, ["manage_activities"])
    await db.commit()
    sections = await _sections(db, settings, member.id)
    assert sections["authorizations"]["rows"] == []
    assert sections["authorizations"]["empty_text"] == "No current authorizations."

    await vote(
        db, authorization_id=pending.id, authorizer=marshal, approve=True, note="", today=TODAY
    )
    await db.commit()
    assert await _stale(db, member.id)
    rows = (await _sections(db, settings, member.id))["authorizations"]["rows"]
    assert [(r["group"], r["label"]) for r in rows] == [("Rapier", "Single Rapier")]
    assert (await _sections(db, settings, marshal.id))["may_authorize"]["rows"][0][
        "label"
    ] == "Single Rapier"

    await revoke(db, authorization_id=pending.id, actor=admin, reason="Unsafe", today=TODAY)
    await db.commit()
    assert await _stale(db, member.id)
    assert (await _sections(db, settings, member.id))["authorizations"]["rows"] == []


async def test_nightly_expiry_invalidates_exactly_the_affected_cards(db, settings):
    activity = await make_activity(db)
    lapsing, keeping = await make_member(db), await make_member(db)
    await make_authorization(db, lapsing, activity, expires_on=TODAY - dt.timedelta(days=1))
    await make_authorization(db, keeping, activity, expires_on=TODAY + dt.timedelta(days=9))
    await db.commit()
    await refresh(db, lapsing.id, settings)
    await refresh(db, keeping.id, settings)
    job = next(j for j in jobs() if j.name == "activities.expire_authorizations")
    await job.run(db, TODAY)
    await db.commit()
    assert await _stale(db, lapsing.id)
    assert not await _stale(db, keeping.id)


async def test_joining_or_changing_an_authorizing_group_refreshes_may_authorize(db, settings):
    from server.groups.models import GroupMembership
    from tests.factories import make_group

    await make_activity(db, "Rapier", "Single Rapier", authorize_permission="authorize_rapier")
    member = await make_staff(db, [])
    group = await make_group(db, permissions=[])
    await db.commit()
    await refresh(db, member.id, settings)
    db.add(GroupMembership(group_id=group.id, member_id=member.id, since=dt.date(2020, 1, 1)))
    await db.commit()
    assert await _stale(db, member.id)
    assert "may_authorize" not in await _sections(db, settings, member.id)
    group.permissions = ["authorize_rapier"]
    await db.commit()
    assert await _stale(db, member.id)
    rows = (await _sections(db, settings, member.id))["may_authorize"]["rows"]
    assert [r["label"] for r in rows] == ["Single Rapier"]


async def test_the_card_lists_authorizations_by_group_then_activity(db, settings):
    """Whatever order they were granted in, a batch of cards lists each member's
    authorizations sorted by group, then activity (and a marshal's "May authorize" too)."""
    member = await make_member(db)
    marshal = await make_authorizer(db, "authorize_rapier")
    granted = [("Rapier", "Two Weapon"), ("Archery", "Target"), ("Rapier", "Epee")]
    for group, name in granted:
        activity = await make_activity(db, group, name, authorize_permission="authorize_rapier")
        await make_authorization(db, member, activity)
        await make_authorization(db, marshal, activity)
    await db.commit()
    marshal_id = marshal.id
    built = await build_many(db, [marshal_id, member.id], settings)
    await db.rollback()
    expected = [("Archery", "Target"), ("Rapier", "Epee"), ("Rapier", "Two Weapon")]
    for payload in built.values():
        sections = {s["key"]: s for s in json.loads(payload.body)["sections"]}
        assert [(r["group"], r["label"]) for r in sections["authorizations"]["rows"]] == expected
    marshal_sections = {s["key"]: s for s in json.loads(built[marshal_id].body)["sections"]}
    assert [(r["group"], r["label"]) for r in marshal_sections["may_authorize"]["rows"]] == expected
