"""Destructive actions ask first (issue 15, item 3): "Clear membership info", "Deactivate" and
"Revoke the card link" each have a confirmation page with a reason; a one-click POST without
a reason changes nothing; actions that cannot apply are not offered."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from server.audit.models import AuditEntry
from server.cards.models import CardLink
from server.members.models import Member
from tests.factories import csrf_from, login, make_member, make_staff

TODAY = dt.date.today()
ALL = ["verify_members", "manage_members", "issue_card_links"]


async def _officer(client, db):
    officer = await make_staff(db, ALL)
    await db.commit()
    await login(client, officer.email)
    return officer


async def _verified_member_with_link(db, **kw) -> Member:
    member = await make_member(
        db,
        membership_number="778",
        membership_expires_on=TODAY + dt.timedelta(days=100),
        verified_at=dt.datetime.now(dt.UTC),
        **kw,
    )
    db.add(CardLink(member_id=member.id, token_hash="c" * 64, live_member_id=member.id))
    await db.commit()
    return member


async def _audit_count(db) -> int:
    count = await db.scalar(select(func.count()).select_from(AuditEntry))
    await db.commit()
    return int(count or 0)


async def _fresh(db, member):
    await db.refresh(member)
    await db.commit()
    return member


PATHS = {"clear-membership": "verified", "deactivate": "verified", "card-links/revoke": None}


@pytest.mark.parametrize("action", sorted(PATHS))
async def test_one_click_without_a_reason_changes_nothing(client, db, action):
    await _officer(client, db)
    member = await _verified_member_with_link(db)
    before = await _audit_count(db)
    token = await csrf_from(client, f"/members/{member.id}")
    response = await client.post(
        f"/members/{member.id}/{action}", data={"csrf_token": token, "version": member.version}
    )
    assert response.status_code == 400
    assert "Give a reason" in response.text
    assert re.search(r'id="f-reason"[^>]*aria-invalid="true"', response.text)
    assert f'action="/members/{member.id}/{action}"' in response.text  # the step to confirm
    await _fresh(db, member)
    assert member.status == "verified" and member.membership_number == "778"
    live = await db.scalar(
        select(func.count()).select_from(CardLink).where(CardLink.revoked_at.is_(None))
    )
    assert live == 1
    assert await _audit_count(db) == before


async def test_the_member_page_links_to_confirmation_pages_that_say_what_happens(client, db):
    await _officer(client, db)
    parent = await _verified_member_with_link(db, sca_name="Parent Petra")
    await make_member(db, sca_name="Kid Kai", birth_year=TODAY.year - 9, parent_id=parent.id)
    await db.commit()
    page = (await client.get(f"/members/{parent.id}")).text
    for action in PATHS:
        assert f'href="/members/{parent.id}/{action}"' in page
    # No one-click forms for these actions are left on the page.
    for action in PATHS:
        assert f'action="/members/{parent.id}/{action}"' not in page
    deactivate = (await client.get(f"/members/{parent.id}/deactivate")).text
    assert "can no longer log in" in deactivate and "Kid Kai" in deactivate
    clear = (await client.get(f"/members/{parent.id}/clear-membership")).text
    assert "number 778" in clear and "“Verified” to “Active”" in clear
    revoke = (await client.get(f"/members/{parent.id}/card-links/revoke")).text
    assert f"issued on {dt.datetime.now(dt.UTC).date().isoformat()} stops working" in revoke
    assert 'name="reason"' in revoke and "required" in revoke


async def test_confirming_with_a_reason_acts_and_keeps_the_reason(client, db):
    await _officer(client, db)
    member = await _verified_member_with_link(db)
    for action, reason in (
        ("card-links/revoke", "Phone lost at Pennsic"),
        ("clear-membership", "Number belonged to someone else"),
        ("deactivate", "Asked to leave"),
    ):
        await _fresh(db, member)
        page = await client.get(f"/members/{member.id}/{action}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
        response = await client.post(
            f"/members/{member.id}/{action}",
            data={"csrf_token": token, "version": version, "reason": reason},
        )
        assert response.status_code == 303, (action, response.text[:500])
    await _fresh(db, member)
    assert member.status == "deactivated" and member.deactivation_reason == "Asked to leave"
    assert member.membership_number is None
    link = (await db.execute(select(CardLink).where(CardLink.member_id == member.id))).scalar_one()
    assert link.revoked_at is not None and link.revoke_reason == "Phone lost at Pennsic"
    notes = dict(
        (
            await db.execute(
                select(AuditEntry.action, AuditEntry.note).where(AuditEntry.member_id == member.id)
            )
        ).all()
    )
    assert notes["member.clear_membership"] == "Number belonged to someone else"
    assert notes["card_link.revoke"] == "Phone lost at Pennsic"


async def test_actions_that_cannot_apply_are_not_offered(client, db):
    await _officer(client, db)
    member = await make_member(db)  # no membership info, no card link
    await db.commit()
    page = (await client.get(f"/members/{member.id}")).text
    assert "Revoke the card link" not in page
    assert "Clear membership info" not in page
    assert "Link parent" not in page  # an adult has no parent linked
    for action in ("card-links/revoke", "clear-membership"):
        confirm = await client.get(f"/members/{member.id}/{action}")
        assert confirm.status_code == 200
        assert "Nothing to confirm" in confirm.text and 'name="reason"' not in confirm.text
    # And the server refuses anyway, whatever was posted.
    token = await csrf_from(client, f"/members/{member.id}")
    response = await client.post(
        f"/members/{member.id}/card-links/revoke",
        data={"csrf_token": token, "reason": "forged"},
    )
    page = await client.get(response.headers["location"])
    assert "has no live card link to revoke" in page.text
    minor = await make_member(db, birth_year=TODAY.year - 10)
    await db.commit()
    assert "Link parent" in (await client.get(f"/members/{minor.id}")).text


async def test_a_stale_confirmation_page_is_refused(client, db):
    await _officer(client, db)
    member = await _verified_member_with_link(db)
    page = await client.get(f"/members/{member.id}/deactivate")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    member.city = "Elsewhere"  # someone else saves the member meanwhile
    await db.commit()
    response = await client.post(
        f"/members/{member.id}/deactivate",
        data={"csrf_token": token, "version": str(member.version - 1), "reason": "x"},
    )
    page = await client.get(response.headers["location"])
    assert "changed by someone else" in page.text
    assert (await _fresh(db, member)).status == "verified"
