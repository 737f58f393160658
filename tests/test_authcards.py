"""The printable auth card pages: who may print, what is on them, batch printing."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from server.authcards.qr import clear_qr_slot, fill_qr_slot, qr_provider
from tests.activities_fixtures import make_activity, make_authorization
from tests.factories import login, make_branch, make_member, make_staff

TODAY = dt.date.today()


async def test_member_sees_front_facts_and_every_current_authorization(client, db):
    branch = await make_branch(db, "Barony of Testing")
    member = await make_member(
        db,
        sca_name="Aelfric of Testing",
        branch_id=branch.id,
        membership_number="M4242",
        membership_expires_on=TODAY - dt.timedelta(days=3),
        verified_at=dt.datetime.now(dt.UTC),
    )
    rapier = await make_activity(db, "Rapier", "Single Rapier")
    await make_authorization(db, member, rapier, expires_on=TODAY + dt.timedelta(days=40))
    gone = await make_activity(db, "Rapier", "Melee")
    await make_authorization(db, member, gone, status="revoked")
    await db.commit()
    await login(client, member.email)
    page = await client.get(f"/members/{member.id}/auth-card")
    assert page.status_code == 200
    text = page.text
    assert "Aelfric of Testing" in text and "Barony of Testing" in text
    expired = (TODAY - dt.timedelta(days=3)).isoformat()
    assert f'Membership M4242 <span class="nowrap">— EXPIRED {expired}</span>' in text
    assert "Single Rapier" in text and "Melee" not in text
    assert f"expires {(TODAY + dt.timedelta(days=40)).isoformat()}" in text
    assert f"Printed on {TODAY.isoformat()}" in text
    assert 'class="qr-slot"' in text
    assert "/static/css/authcard.css" in text and "authcard-letter.css" not in text
    letter = await client.get(f"/members/{member.id}/auth-card?paper=letter")
    assert "authcard-letter.css" in letter.text


async def test_who_may_print_a_card(client, db):
    parent = await make_member(db)
    child = await make_member(db, birth_year=TODAY.year - 10, parent_id=parent.id)
    stranger = await make_member(db)
    office = await make_staff(db, ["manage_members"])
    await db.commit()
    await login(client, stranger.email)
    refused = await client.get(f"/members/{child.id}/auth-card")
    assert refused.status_code == 403
    assert "your own auth card, or your minor child" in refused.text
    assert (await client.get("/auth-cards")).status_code == 403
    assert (await client.get("/members/999999/auth-card")).status_code == 404
    client.cookies.clear()
    await login(client, parent.email)
    assert (await client.get(f"/members/{child.id}/auth-card")).status_code == 200
    client.cookies.clear()
    await login(client, office.email)
    assert (await client.get(f"/members/{stranger.id}/auth-card")).status_code == 200


def _printed(html: str) -> list[int]:
    """The members whose auth cards a sheet prints, in order."""
    return [int(found) for found in re.findall(r'<div class="card" data-member="(\d+)">', html)]


async def test_batch_prints_a_branch_with_its_sub_branches_or_a_selection(client, db):
    barony = await make_branch(db, "Barony of Batch")
    shire = await make_branch(db, "Shire of Below", parent_id=barony.id)
    elsewhere = await make_branch(db, "Shire of Elsewhere")
    a = await make_member(db, sca_name="Alpha Batch", branch_id=barony.id)
    b = await make_member(db, sca_name="Beta Below", branch_id=shire.id)
    c = await make_member(db, sca_name="Gamma Elsewhere", branch_id=elsewhere.id)
    office = await make_staff(db, ["manage_members"])
    await db.commit()
    await login(client, office.email)
    form = await client.get("/auth-cards")
    assert "Barony of Batch" in form.text
    sheet = await client.get(f"/auth-cards?branch={barony.id}&paper=letter")
    assert sheet.status_code == 200
    # The barony's member and the sub-branch's, one card each; not the other shire's.
    assert sorted(_printed(sheet.text)) == sorted([a.id, b.id])
    assert "Alpha Batch" in sheet.text and "Beta Below" in sheet.text
    assert "Gamma Elsewhere" not in sheet.text
    assert "authcard-letter.css" in sheet.text
    chosen = await client.get(f"/auth-cards?ids={a.id},{c.id}")
    assert sorted(_printed(chosen.text)) == sorted([a.id, c.id])
    assert "Alpha Batch" in chosen.text and "Gamma Elsewhere" in chosen.text
    assert "Beta Below" not in chosen.text
    bad = await client.get("/auth-cards?ids=1,x")
    assert bad.status_code == 400 and "whole numbers" in bad.text
    assert (await client.get("/auth-cards?branch=999999")).status_code == 400


@pytest.fixture
def check_area_qr():
    async def provider(db, member, base_url):
        return f'<svg xmlns="http://www.w3.org/2000/svg" data-check="{member.id}"></svg>'

    previous = qr_provider()  # the check area's, when installed
    fill_qr_slot(provider)
    yield provider
    if previous is None:
        clear_qr_slot()
    else:
        fill_qr_slot(previous)


async def test_the_check_area_fills_the_qr_slot(client, db, check_area_qr):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    page = await client.get(f"/members/{member.id}/auth-card")
    assert f'data-check="{member.id}"' in page.text


async def test_batch_leaves_deactivated_members_out_unless_asked_for(client, db):
    barony = await make_branch(db, "Barony of Statuses")
    active = await make_member(db, sca_name="Active Anwen", branch_id=barony.id)
    gone = await make_member(
        db,
        sca_name="Deactivated Dorcas",
        branch_id=barony.id,
        deactivated_at=dt.datetime.now(dt.UTC),
    )
    office = await make_staff(db, ["manage_members"])
    await db.commit()
    await login(client, office.email)
    form = (await client.get("/auth-cards")).text
    assert 'name="status" value="verified" checked' in form
    assert 'name="status" value="deactivated">' in form  # offered, not ticked

    sheet = await client.get(f"/auth-cards?branch={barony.id}")
    assert "Active Anwen" in sheet.text and "Deactivated Dorcas" not in sheet.text
    assert "1 member with another status left out" in sheet.text
    chosen = await client.get(f"/auth-cards?ids={active.id},{gone.id}")
    assert "Active Anwen" in chosen.text and "Deactivated Dorcas" not in chosen.text

    asked = await client.get(f"/auth-cards?branch={barony.id}&status=deactivated&status=active")
    assert "Active Anwen" in asked.text and "Deactivated Dorcas" in asked.text
    assert "left out" not in asked.text
    only = await client.get(f"/auth-cards?ids={active.id},{gone.id}&status=deactivated")
    assert "Deactivated Dorcas" in only.text and "Active Anwen" not in only.text
    bad = await client.get(f"/auth-cards?branch={barony.id}&status=emperor")
    assert bad.status_code == 400 and "Choose statuses from the list" in bad.text


async def test_a_deactivated_members_printed_card_shows_nothing_as_valid(client, db):
    """Office staff may still print a deactivated member's card (one card, or a batch with
    the status ticked): like their mobile card it says that nothing on it is valid, on the
    front and on every back, instead of listing their authorizations as if current."""
    office = await make_staff(db, ["manage_members"])
    branch = await make_branch(db, "Barony of Suspension")
    member = await make_member(
        db,
        sca_name="Fulk of Amberdale",
        branch_id=branch.id,
        membership_number="M4343",
        membership_expires_on=TODAY + dt.timedelta(days=300),
        verified_at=dt.datetime.now(dt.UTC),
        deactivated_at=dt.datetime.now(dt.UTC),
    )
    for n in range(25):  # enough rows for a second pair of panels
        activity = await make_activity(db, "Armored Combat", f"Form {n:02d}")
        await make_authorization(db, member, activity, expires_on=TODAY + dt.timedelta(days=90))
    await db.commit()
    await login(client, office.email)
    pages = [
        await client.get(f"/members/{member.id}/auth-card"),
        await client.get(f"/auth-cards?branch={branch.id}&status=deactivated"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert "Status: Deactivated" in page.text
        assert '<p class="expired">Nothing on this card is valid.</p>' in page.text
        backs = page.text.count('class="panel back"')
        assert backs >= 2
        assert page.text.count("Fulk of Amberdale — NOT VALID: deactivated</p>") == backs
