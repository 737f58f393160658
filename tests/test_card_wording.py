"""What the card says about each status: one consistent sentence, nothing green when
the card is deactivated."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import pytest
from sqlalchemy import select

from server.members.models import Member
from server.members.status import BY_KEY, STATUSES, refresh_status
from tests import card_fixtures
from tests.activities_fixtures import make_activity, make_authorization
from tests.card_fixtures import issued_token
from tests.factories import make_member

_reset_card_limiter = card_fixtures.reset_card_limiter
TODAY = dt.date.today()
VALID = {
    "membership_number": "M123",
    "membership_expires_on": TODAY + dt.timedelta(days=300),
    "background_check_expires_on": TODAY + dt.timedelta(days=200),
}
# The facts that give each status (brief §2), with a current membership on record.
FACTS: dict[str, dict[str, Any]] = {
    "verified": {"verified_at": dt.datetime.now(dt.UTC)},
    "active": {},
    "minor_verified": {"verified_at": dt.datetime.now(dt.UTC), "parent": True},
    "minor_parent_verified": {"parent": True},
    "minor_membership_verified": {"verified_at": dt.datetime.now(dt.UTC), "minor": True},
    "minor_unverified": {"minor": True},
    "deactivated": {"verified_at": dt.datetime.now(dt.UTC), "deactivate": True},
}


async def _card_of(db, settings, status: str, authorized: bool = False) -> str:
    """A card link of a member in ``status`` (deactivated after the link was issued)."""
    facts = dict(FACTS[status])
    deactivate = facts.pop("deactivate", False)
    if facts.pop("parent", False):
        facts["parent_id"] = (await make_member(db)).id
        facts["birth_year"] = TODAY.year - 12
    if facts.pop("minor", False):
        facts["birth_year"] = TODAY.year - 12
    member = await make_member(db, sca_name=f"Holder {status}", **VALID, **facts)
    if authorized:
        rapier = await make_activity(db, "Rapier", "Single Rapier")
        await make_authorization(db, member, rapier, expires_on=TODAY + dt.timedelta(days=90))
    token = await issued_token(db, settings, member)
    if deactivate:
        member = await db.get(Member, member.id)
        member.deactivated_at = dt.datetime.now(dt.UTC)
        refresh_status(member, TODAY)
        await db.commit()
    assert member.status == status
    return token


def _tones(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["tone"]] if isinstance(value.get("tone"), str) else []
        return found + [t for v in value.values() for t in _tones(v)]
    if isinstance(value, list):
        return [t for v in value for t in _tones(v)]
    return []


@pytest.mark.parametrize("status", [s.key for s in STATUSES])
async def test_each_status_reads_as_one_consistent_sentence(client, db, settings, status):
    token = await _card_of(db, settings, status)
    data = (await client.get(f"/card/{token}.json")).json()
    label, sentence = data["status"]["label"], data["status"]["text"]
    headline = data["headline"]["text"]

    assert not sentence.lower().startswith(label.lower())  # no "Deactivated — Deactivated: …"
    page = (await client.get(f"/card/{token}")).text
    assert f"{html.escape(label)}</strong> — <span" in page and sentence in page
    verified = "membership verified" in sentence
    if verified:  # the headline never contradicts the sentence below it
        assert "not verified" not in headline.lower() and "Not verified" not in page
    if status == "minor_membership_verified":
        assert (headline, sentence) == (
            "Under 18: no parent linked",
            "Under 18; membership verified, no parent linked.",
        )
    if status == "deactivated":
        assert headline == "Deactivated" and sentence == "Not a member in good standing."
    if data["headline"]["tone"] == "ok":
        assert headline.startswith("Current member") and verified


async def test_a_deactivated_card_shows_nothing_as_valid(client, db, settings):
    token = await _card_of(db, settings, "deactivated", authorized=True)

    data = (await client.get(f"/card/{token}.json")).json()
    assert "ok" not in _tones(data)
    assert (
        data["membership"]["text"] == f"Until {VALID['membership_expires_on']} (card deactivated)"
    )
    [authorizations] = [s for s in data["sections"] if s["key"] == "authorizations"]
    assert [r["label"] for r in authorizations["rows"]] == ["Single Rapier"]
    assert authorizations["note"] == "Not valid while this card is deactivated."

    page = (await client.get(f"/card/{token}")).text
    assert "Valid until" not in page and "tone-ok" not in page
    assert page.count("Deactivated") == 2  # the headline and the status label, once each
    assert "Not valid while this card is deactivated." in page


async def test_an_active_card_keeps_its_green(client, db, settings):
    """The muting is for deactivated cards only."""
    token = await _card_of(db, settings, "verified", authorized=True)
    data = (await client.get(f"/card/{token}.json")).json()
    assert data["membership"]["tone"] == "ok" and data["headline"]["text"] == "Current member"
    [authorizations] = [s for s in data["sections"] if s["key"] == "authorizations"]
    assert authorizations["rows"][0]["tone"] == "ok" and "note" not in authorizations


@pytest.mark.parametrize("status", ["verified", "minor_verified", "minor_membership_verified"])
async def test_an_expired_membership_is_not_called_verified(client, db, settings, status):
    """Under a red "Membership expired" the status sentence says the membership expired,
    not "membership verified"."""
    token = await _card_of(db, settings, status)
    member = (
        await db.execute(select(Member).where(Member.sca_name == f"Holder {status}"))
    ).scalar_one()
    member.membership_expires_on = TODAY - dt.timedelta(days=2)
    await db.commit()
    data = (await client.get(f"/card/{token}.json")).json()
    assert data["headline"] == {"text": "Membership expired", "tone": "bad"}
    assert data["status"]["label"] == BY_KEY[status].label
    assert "membership expired" in data["status"]["text"]
    assert "verified" not in data["status"]["text"]
    page = (await client.get(f"/card/{token}")).text
    assert "membership verified" not in page
