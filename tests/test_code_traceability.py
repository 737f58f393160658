"""Traceability of member codes (issue 15, item 8): the agreement's page lists who holds its
seats and who is waiting with its code; a member's page names the applicant record and the
code they came from; the weekly recap names the code and the agreement."""

from __future__ import annotations

import re

from sqlalchemy import select

from server.applicants.models import Applicant
from server.applicants.recap import send_recap
from tests.applicant_fixtures import make_agreement, make_applicant, outbox, set_site
from tests.factories import csrf_from, login, make_member, make_staff


async def _create_member(client, applicant) -> int:
    token = await csrf_from(client, f"/applicants/{applicant.id}")
    response = await client.post(
        f"/applicants/{applicant.id}/create-member",
        data={"csrf_token": token, "version": applicant.version},
    )
    assert response.status_code == 303, response.text
    return await _member_of(client, applicant)


async def _member_of(client, applicant) -> int:
    page = await client.get(f"/applicants/{applicant.id}")
    match = re.search(r'Member <a href="/members/(\d+)"', page.text)
    assert match
    return int(match.group(1))


async def test_seats_origins_and_the_recap_name_the_code(client, db):
    await set_site(db, "membership_office_email", "office@example.org")
    officer = await make_staff(db, ["manage_members"], sca_name="Officer Olaf")
    agreement = await make_agreement(db, code="ACME-2026", organisation="Acme Guild")
    seated = await make_applicant(
        db, sca_name="Seated Sigrid", email="sigrid@example.org", member_code=" acme-2026 "
    )
    waiting = await make_applicant(
        db, sca_name="Waiting Wulf", email="wulf@example.org", member_code="ACME-2026"
    )
    plain = await make_applicant(db, sca_name="Plain Piers", email="piers@example.org")
    await db.commit()
    await login(client, officer.email)
    sigrid_id = await _create_member(client, seated)
    piers_id = await _create_member(client, plain)

    page = (await client.get(f"/member-codes/{agreement.id}")).text
    holders = page[page.index("Who holds its seats") : page.index("Extend the end date")]
    assert f'href="/members/{sigrid_id}"' in holders and "Seated Sigrid" in holders
    assert "Officer Olaf" in holders  # who assigned the seat
    pending = holders[holders.index("Pending applicants") :]
    assert f'href="/applicants/{waiting.id}"' in pending and "Waiting Wulf" in pending
    assert "Plain Piers" not in holders

    member_page = (await client.get(f"/members/{sigrid_id}")).text
    origin = re.search(r'<dd id="member-origin">(.*?)</dd>', member_page, re.S)
    assert origin
    assert f'href="/applicants/{seated.id}"' in origin.group(1)
    assert "acme-2026" in origin.group(1) and "Acme Guild" in origin.group(1)
    assert f'href="/member-codes/{agreement.id}"' in origin.group(1)
    piers_page = (await client.get(f"/members/{piers_id}")).text
    assert "No member code given." in piers_page
    direct = await make_member(db)
    await db.commit()
    assert "entered directly in the register" in (await client.get(f"/members/{direct.id}")).text

    await send_recap(db)
    await db.commit()
    [recap] = await outbox(db, "weekly_recap")
    sigrid_line = recap.body_text[recap.body_text.index("Seated Sigrid") :]
    assert "member code acme-2026: agreement with Acme Guild (ACME-2026)" in sigrid_line
    piers_entry = recap.body_text.split("Plain Piers")[1].split("\n- ")[0]
    assert "member code" not in piers_entry
    assert (await db.scalar(select(Applicant.member_id).where(Applicant.id == seated.id))) == (
        sigrid_id
    )
