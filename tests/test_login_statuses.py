"""The login rule of the status table, for all seven statuses, with each refusal's message."""

from __future__ import annotations

import datetime as dt
import html

import pytest

from server.members.status import STATUSES
from tests.factories import login, make_member

NOW = dt.datetime.now(dt.UTC)
MINOR_YEAR = dt.date.today().year - 12

FACTS = {
    "deactivated": {"deactivated_at": NOW},
    "active": {},
    "verified": {"verified_at": NOW},
    "minor_unverified": {"birth_year": MINOR_YEAR},
    "minor_membership_verified": {"birth_year": MINOR_YEAR, "verified_at": NOW},
    "minor_parent_verified": {"birth_year": MINOR_YEAR, "parent": True},
    "minor_verified": {"birth_year": MINOR_YEAR, "verified_at": NOW, "parent": True},
}
REFUSALS = {
    "deactivated": "Your account has been deactivated.",
    "minor_unverified": "can log in once a parent or guardian's account has been linked",
    "minor_membership_verified": "Your membership is verified, but members under 18 can log in only once",
}


def test_every_status_is_covered():
    assert set(FACTS) == {s.key for s in STATUSES}
    assert set(REFUSALS) == {s.key for s in STATUSES if not s.can_log_in}


@pytest.mark.parametrize("status", list(FACTS))
async def test_login_rule(client, db, status):
    facts = dict(FACTS[status])
    if facts.pop("parent", False):
        facts["parent_id"] = (await make_member(db)).id
    member = await make_member(db, email=f"{status}@example.org", **facts)
    await db.commit()
    assert member.status == status
    response = await login(client, member.email)
    if status in REFUSALS:
        assert response.status_code == 400
        assert REFUSALS[status] in html.unescape(response.text)
        assert "Contact the Membership Office" in response.text
        assert (await client.get("/members/1/status")).status_code == 303  # not logged in
    else:
        assert response.status_code == 303
