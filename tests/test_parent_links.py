"""A minor's parent link needs an adult, active parent at all times (issue 15, item 7).

Deactivating, deleting or recording a parent as under 18 ends every link to them in the
same transaction: the child's status is recomputed (they can no longer log in), the change
is audited, and the child and the Membership Office are emailed.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.mail.models import OutboxMessage
from server.members.models import Member
from server.settings.store import set_setting
from tests.factories import csrf_from, login, make_member, make_staff

TODAY = dt.date.today()
MINOR_YEAR = TODAY.year - 12
OFFICE = "office@example.org"


@pytest.fixture
async def child_client(app):
    transport = httpx.ASGITransport(app=app, client=("127.0.0.2", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _family(db):
    """An officer, a parent, two linked minors (one verified) and an unrelated minor."""
    await set_setting(db, "membership_office_email", OFFICE, None)
    officer = await make_staff(db, ["manage_members", "verify_members"], is_superuser=True)
    parent = await make_member(db, email="parent@example.org")
    kid = await make_member(db, email="kid@example.org", birth_year=MINOR_YEAR, parent_id=parent.id)
    verified_kid = await make_member(
        db,
        email="kid2@example.org",
        birth_year=MINOR_YEAR,
        parent_id=parent.id,
        membership_number="55",
        membership_expires_on=TODAY + dt.timedelta(days=90),
        verified_at=dt.datetime.now(dt.UTC),
    )
    other = await make_member(db, birth_year=MINOR_YEAR)
    await db.commit()
    assert kid.status == "minor_parent_verified"
    assert verified_kid.status == "minor_verified"
    assert other.status == "minor_unverified"
    return officer, parent, kid, verified_kid


async def _fresh(db, member: Member) -> Member:
    await db.refresh(member)
    await db.commit()
    return member


async def _rows(db, model, *where):
    rows = list((await db.execute(select(model).where(*where))).scalars())
    await db.commit()
    return rows


async def _assert_links_ended(db, parent, kid, verified_kid, officer):
    await _fresh(db, kid)
    await _fresh(db, verified_kid)
    assert kid.parent_id is None and kid.status == "minor_unverified"
    assert verified_kid.parent_id is None and verified_kid.status == "minor_membership_verified"
    for child, before, after in (
        (kid, "minor_parent_verified", "minor_unverified"),
        (verified_kid, "minor_verified", "minor_membership_verified"),
    ):
        [entry] = await _rows(
            db,
            AuditEntry,
            AuditEntry.member_id == child.id,
            AuditEntry.action == "member.parent_link_ended",
        )
        assert entry.actor_id == officer.id
        assert entry.before == {"parent_id": parent.id, "status": before}
        assert entry.after == {"parent_id": None, "status": after}
    told = await _rows(db, OutboxMessage, OutboxMessage.kind == "parent_link_ended")
    assert sorted(m.to_addr for m in told) == ["kid2@example.org", "kid@example.org"]
    assert all("cannot" in m.body_text and "log in" in m.body_text for m in told)
    [office] = await _rows(db, OutboxMessage, OutboxMessage.kind == "parent_link_ended_office")
    assert office.to_addr == OFFICE
    assert kid.display_name in office.body_text and verified_kid.display_name in office.body_text


async def test_deactivating_the_parent_ends_the_links_and_logs_the_minor_out(
    client, child_client, db
):
    officer, parent, kid, verified_kid = await _family(db)
    await login(child_client, kid.email)
    assert (await child_client.get("/me")).status_code == 200
    await login(client, officer.email)
    token = await csrf_from(client, f"/members/{parent.id}/status")
    response = await client.post(
        f"/members/{parent.id}/deactivate",
        data={"csrf_token": token, "version": parent.version, "reason": "Left the kingdom"},
    )
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "is deactivated" in page.text and "parent link of" in page.text
    await _assert_links_ended(db, parent, kid, verified_kid, officer)
    # The minor's next request finds them logged out.
    response = await child_client.get("/me")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    # Reactivating the parent does not bring the links back: they ended, as history.
    token = await csrf_from(client, f"/members/{parent.id}/status")
    await _fresh(db, parent)
    await client.post(
        f"/members/{parent.id}/reactivate",
        data={"csrf_token": token, "version": parent.version},
    )
    assert (await _fresh(db, kid)).parent_id is None


async def test_deleting_the_parent_ends_the_links(client, db):
    officer, parent, kid, verified_kid = await _family(db)
    await login(client, officer.email)
    token = await csrf_from(client, f"/members/{parent.id}/delete")
    response = await client.post(
        f"/members/{parent.id}/delete",
        data={"csrf_token": token, "reason": "Duplicate account", "confirm": "on"},
    )
    assert response.status_code == 303
    await _assert_links_ended(db, parent, kid, verified_kid, officer)


async def test_a_parent_recorded_as_under_18_ends_the_links(db):
    from server.members.actions import deactivate
    from server.members.service import save_member

    officer, parent, kid, verified_kid = await _family(db)
    # An ordinary edit keeps the links, and deactivating someone who is nobody's parent
    # tells nobody.
    await save_member(db, parent, {"city": "Elsewhere"}, actor_id=officer.id, today=TODAY)
    loner = await make_member(db)
    await db.commit()
    message = await deactivate(
        db, loner, officer, expected_version=loner.version, reason="test", today=TODAY
    )
    await db.commit()
    assert "parent link" not in message
    assert (await _fresh(db, kid)).parent_id == parent.id
    assert await _rows(db, OutboxMessage, OutboxMessage.kind.like("parent_link%")) == []
    # A corrected birth year that makes the parent a minor ends them.
    await save_member(db, parent, {"birth_year": TODAY.year - 16}, actor_id=officer.id, today=TODAY)
    await db.commit()
    await _assert_links_ended(db, parent, kid, verified_kid, officer)


async def test_the_officer_is_not_told_the_office_was_told_when_it_has_no_address(client, db):
    """Deactivating a parent with no Membership Office email set: the children are
    emailed, the office is not (it has no address), and the message says so instead of
    "they and the Membership Office are told"."""
    officer, parent, kid, verified_kid = await _family(db)
    await set_setting(db, "membership_office_email", "", None)
    await db.commit()
    await login(client, officer.email)
    token = await csrf_from(client, f"/members/{parent.id}/status")
    response = await client.post(
        f"/members/{parent.id}/deactivate",
        data={"csrf_token": token, "version": parent.version, "reason": "Left the kingdom"},
    )
    page = (await client.get(response.headers["location"])).text
    assert "is deactivated" in page and "parent link of" in page
    assert "Membership Office are told" not in page
    assert "no Membership Office email is set" in page
    assert await _rows(db, OutboxMessage, OutboxMessage.kind == "parent_link_ended_office") == []
    assert len(await _rows(db, OutboxMessage, OutboxMessage.kind == "parent_link_ended")) == 2
