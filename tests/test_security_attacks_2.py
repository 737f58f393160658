"""The second attacker's review of issue 12, replayed as attacks.

Each test follows an attacker's steps against the app and asserts that the attack no
longer works; each one succeeded before its fix. The roles are the demo's
(``tests/role_fixtures.py``).
"""

from __future__ import annotations

import datetime as dt

import pytest

from server.groups.models import GroupMembership
from server.web.ratelimit import RateLimiter
from tests.factories import csrf_from, login, make_member
from tests.reload import reload
from tests.role_fixtures import Offices

LONG_AGO = dt.date(2019, 1, 1)
ENDED = dt.date(2020, 1, 1)


@pytest.fixture(autouse=True)
def _fresh_limits():
    RateLimiter.reset_all()
    yield
    RateLimiter.reset_all()


async def _ended_membership(db, group_id: int, member_id: int) -> GroupMembership:
    membership = GroupMembership(
        group_id=group_id, member_id=member_id, since=LONG_AGO, until=ENDED, role="former"
    )
    db.add(membership)
    await db.flush()
    return membership


async def _edit_membership(client, membership: GroupMembership, **values: str):
    path = f"/groups/{membership.group_id}/memberships/{membership.id}/edit"
    token = await csrf_from(client, path)
    data = {"since": str(membership.since), "until": "", "role": membership.role, **values}
    return await client.post(path, data={**data, "csrf_token": token})


async def test_a_chair_cannot_reopen_an_ended_membership_to_grant_what_they_lack(client, db):
    """The office's chair (``manage_groups``, no ``check_cards``) once served in the
    Marshallate, as did a plain member. The ended memberships hold no standing, so the
    chair may open them — and, by clearing the end date, reopened them: the chair and
    their accomplice became marshals, a permission the chair could never grant."""
    offices = await Offices.make(db)
    chair = await offices.person(db, "chair")
    accomplice = await offices.person(db, "member")
    own = await _ended_membership(db, offices.marshallate.id, chair.id)
    theirs = await _ended_membership(db, offices.marshallate.id, accomplice.id)
    await db.commit()
    await login(client, chair.email)
    for membership in (own, theirs):
        response = await _edit_membership(client, membership)
        assert response.status_code == 400
        assert "you do not hold: “Check member cards as a marshal”" in response.text
        later = await _edit_membership(client, membership, until="2099-12-31")
        assert later.status_code == 400
        earlier = await _edit_membership(client, membership, since="2018-01-01", until="2020-01-01")
        assert earlier.status_code == 400
        await reload(db, membership)
        assert (membership.since, membership.until) == (LONG_AGO, ENDED)
    assert (await client.get("/check/scan/")).status_code == 403
    # Shortening or renaming hands nothing out: still allowed.
    renamed = await _edit_membership(client, theirs, until=str(ENDED), role="Former marshal")
    assert renamed.status_code == 303
    await reload(db, theirs)
    assert theirs.role == "Former marshal"


async def test_a_chair_reopens_memberships_in_a_group_whose_permissions_they_hold(client, db):
    offices = await Offices.make(db)
    chair = await offices.person(db, "chair")
    deputy = await make_member(db, is_staff=True)
    ended = await _ended_membership(db, offices.office.id, deputy.id)
    await db.commit()
    await login(client, chair.email)
    response = await _edit_membership(client, ended)
    assert response.status_code == 303
    await reload(db, ended)
    assert ended.until is None


async def test_a_superuser_reopens_any_membership(client, db):
    offices = await Offices.make(db)
    root = await offices.person(db, "superuser")
    former = await make_member(db)
    ended = await _ended_membership(db, offices.marshallate.id, former.id)
    await db.commit()
    await login(client, root.email)
    assert (await _edit_membership(client, ended)).status_code == 303
    await reload(db, ended)
    assert ended.until is None
