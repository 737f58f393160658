"""Actions an officer meets on a member's pages are the ones they can carry out (issue 15,
point 3): an account the officer may not act on offers no card-link, photo or check-code
buttons (each only answered 403); revoking check codes, and replacing a live card link
(which stops the card on the member's phone), ask for a reason and do nothing without one;
a refusal names permissions by their labels.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from server.cards.models import CardLink
from server.checks.models import CodeRevocation
from server.mail.models import OutboxMessage
from tests.factories import csrf_from, login, make_member, make_staff
from tests.role_fixtures import Offices


def _main(html: str) -> str:
    return html.split("<main", 1)[1]


async def test_a_protected_account_offers_no_card_photo_or_code_actions(client, db):
    offices = await Offices.make(db)
    deputy = await offices.person(db, "officer")
    chair = await offices.person(db, "chair")
    db.add(CardLink(member_id=chair.id, token_hash="c" * 64, live_member_id=chair.id))
    await db.commit()
    await login(client, deputy.email)

    page = _main((await client.get(f"/members/{chair.id}")).text)
    assert "holds permissions you do not hold" in page
    assert "Email a new card link" not in page
    assert f"/members/{chair.id}/card-links/revoke" not in page
    assert f"/members/{chair.id}/photo/upload" not in page
    assert "Revoke check codes" not in page
    # The card-link history stays readable, and its page says why there is no button.
    assert f"/members/{chair.id}/card-links" in page

    checks = _main((await client.get(f"/checks/member/{chair.id}")).text)
    assert "holds permissions you do not hold" in checks
    assert "Revoke all codes issued until now" not in checks
    assert f"/members/{chair.id}/photo/upload" not in checks


async def test_an_account_the_officer_may_act_on_keeps_its_actions(client, db):
    offices = await Offices.make(db)
    deputy = await offices.person(db, "officer")
    member = await offices.person(db, "member")
    db.add(CardLink(member_id=member.id, token_hash="d" * 64, live_member_id=member.id))
    await db.commit()
    await login(client, deputy.email)

    page = _main((await client.get(f"/members/{member.id}")).text)
    assert f"/members/{member.id}/card-links/replace" in page
    assert f"/members/{member.id}/card-links/revoke" in page
    assert f"/members/{member.id}/photo/upload" in page
    assert "Revoke check codes" in page
    checks = (await client.get(f"/checks/member/{member.id}")).text
    assert "Revoke all codes issued until now" in checks


async def test_revoking_check_codes_needs_a_reason(client, db):
    office = await make_staff(db, ["manage_members"])
    member = await make_member(db, sca_name="Lost Lothar")
    await db.commit()
    await login(client, office.email)

    page = (await client.get(f"/checks/member/{member.id}")).text
    field = re.search(r'<input id="f-reason"[^>]*>', page)
    assert field and "required" in field.group(0)
    assert 'value=""' in field.group(0)  # no reason is filled in for the officer

    token = await csrf_from(client, f"/checks/member/{member.id}")
    refused = await client.post(
        f"/members/{member.id}/revoke-codes", data={"reason": "  ", "csrf_token": token}
    )
    assert refused.status_code == 400
    assert 'id="error-summary"' in refused.text
    field = re.search(r'<input id="f-reason"[^>]*>', refused.text)
    assert field and 'aria-invalid="true"' in field.group(0)
    assert "aria-describedby" in field.group(0) and "e-reason" in field.group(0)
    assert "Reason is required." in refused.text
    await db.rollback()
    count = select(func.count()).select_from(CodeRevocation)
    assert await db.scalar(count) == 0

    done = await client.post(
        f"/members/{member.id}/revoke-codes",
        data={"reason": "Printed card lost at Crown", "csrf_token": token},
    )
    assert done.status_code == 303
    await db.rollback()
    assert await db.scalar(count) == 1
    history = (await client.get(done.headers["location"])).text
    assert "Printed card lost at Crown" in history


async def test_a_members_check_page_refused_by_permission_labels(client, db):
    marshal = await make_staff(db, ["check_cards"])
    member = await make_member(db)
    await db.commit()
    await login(client, marshal.email)
    refused = await client.get(f"/checks/member/{member.id}")
    assert refused.status_code == 403
    assert "View reports and the check log" in refused.text
    assert "Manage members" in refused.text
    assert "view_reports" not in refused.text and "manage_members" not in refused.text


async def _links(db) -> list[CardLink]:
    await db.rollback()
    return list((await db.execute(select(CardLink).order_by(CardLink.id))).scalars())


async def test_replacing_a_live_card_link_asks_first_with_a_reason(client, db):
    officer = await make_staff(db, ["issue_card_links", "manage_members"])
    member = await make_member(db, sca_name="Phone Phyllis", email="phyllis@example.org")
    await db.commit()
    member_id = member.id
    await login(client, officer.email)
    # No link yet: one click emails the first one.
    page = _main((await client.get(f"/members/{member.id}")).text)
    assert "Email a new card link" in page and "card-links/replace" not in page
    token = await csrf_from(client, f"/members/{member.id}")
    first = await client.post(f"/members/{member.id}/card-links/issue", data={"csrf_token": token})
    assert first.status_code == 303
    [live] = await _links(db)

    # A live link: the page offers to replace it (a page of its own), not a one-click send.
    page = _main((await client.get(f"/members/{member_id}")).text)
    assert "Email a new card link" not in page
    assert f'href="/members/{member_id}/card-links/replace"' in page
    history = _main((await client.get(f"/members/{member_id}/card-links")).text)
    assert "Email a new card link" not in history and "card-links/replace" in history
    confirm = await client.get(f"/members/{member_id}/card-links/replace")
    assert confirm.status_code == 200
    assert "stops working at once" in confirm.text and "phyllis@example.org" in confirm.text

    # Sent without a reason, the question comes back at its field; nothing changes.
    token = await csrf_from(client, f"/members/{member_id}/card-links/replace")
    asked = await client.post(
        f"/members/{member_id}/card-links/replace", data={"csrf_token": token, "reason": " "}
    )
    assert asked.status_code == 400
    assert 'aria-invalid="true"' in asked.text and "Give a reason" in asked.text
    [still] = await _links(db)
    assert still.id == live.id and still.live_member_id == member_id

    # A one-click "Email a new card link" form posted now (a page shown before the link
    # was issued, or a forged form) gets the same question and changes nothing.
    stale = await client.post(f"/members/{member_id}/card-links/issue", data={"csrf_token": token})
    assert stale.status_code == 409
    assert "stops working at once" in stale.text
    assert f'action="/members/{member_id}/card-links/replace"' in stale.text
    [still] = await _links(db)
    assert still.id == live.id and still.live_member_id == member_id

    done = await client.post(
        f"/members/{member_id}/card-links/replace",
        data={"csrf_token": token, "reason": "New phone"},
    )
    assert done.status_code == 303
    assert "on its way to" in (await client.get(done.headers["location"])).text
    old, new = await _links(db)
    assert old.live_member_id is None and old.revoke_reason == "New phone"
    assert new.live_member_id == member_id
    mails = (
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.member_id == member_id)
    )
    assert await db.scalar(mails) == 2


async def test_replacing_is_refused_when_there_is_nothing_to_replace(client, db):
    officer = await make_staff(db, ["issue_card_links"])
    member = await make_member(db, sca_name="Linkless Lars")
    await db.commit()
    await login(client, officer.email)
    page = await client.get(f"/members/{member.id}/card-links/replace")
    assert "no live card link to replace" in page.text
    assert 'action="/members/' not in _main(page.text)  # nothing to confirm


async def test_the_authorizations_link_only_for_those_who_may_open_it(client, db):
    officer = await make_staff(db, ["manage_members", "verify_members"])
    marshal_lord = await make_staff(db, ["manage_members", "manage_activities"])
    member = await make_member(db, sca_name="Fighter Finn")
    await db.commit()
    await login(client, officer.email)
    page = _main((await client.get(f"/members/{member.id}")).text)
    assert f"/activities/members/{member.id}" not in page  # it would only answer 403
    assert f"/members/{member.id}/auth-card" in page
    assert (await client.get(f"/activities/members/{member.id}")).status_code == 403

    await login(client, marshal_lord.email)
    page = _main((await client.get(f"/members/{member.id}")).text)
    assert f'href="/activities/members/{member.id}"' in page
    assert (await client.get(f"/activities/members/{member.id}")).status_code == 200
