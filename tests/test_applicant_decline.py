"""Decline an applicant: audited, hidden from review, and exclusive with Create member."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import func, select, text

from server.applicants import creation, decline
from server.applicants.models import Applicant, RecapEntry
from server.audit.models import AuditEntry
from server.mail.models import OutboxMessage
from server.member_codes.models import Seat
from server.members.models import Member
from tests.applicant_fixtures import TODAY, make_applicant
from tests.factories import csrf_from, login, make_member, make_staff


async def _manager(db, client):
    admin = await make_staff(db, ["manage_members"])
    await db.commit()
    await login(client, admin.email)
    return admin


async def _decline(client, applicant, version=None, **data: str):
    token = await csrf_from(client, f"/applicants/{applicant.id}")
    data = {"reason_kind": "spam", **data}
    return await client.post(
        f"/applicants/{applicant.id}/decline",
        data={
            "csrf_token": token,
            "version": str(applicant.version if version is None else version),
            **data,
        },
    )


async def _create(client, applicant, version):
    token = await csrf_from(client, f"/applicants/{applicant.id}")
    return await client.post(
        f"/applicants/{applicant.id}/create-member",
        data={"csrf_token": token, "version": str(version)},
    )


async def _state(db, applicant_id: int) -> dict[str, Any]:
    """Everything a refused request must leave alone: the row and the related counts."""
    row = (
        await db.execute(
            select(Applicant)
            .where(Applicant.id == applicant_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    state: dict[str, Any] = {c.key: getattr(row, c.key) for c in Applicant.__table__.columns}
    for model in (Member, Seat, RecapEntry, OutboxMessage, AuditEntry):
        state[model.__name__] = await db.scalar(select(func.count()).select_from(model))
    await db.commit()
    return state


async def _flash(client, response) -> str:
    assert response.status_code == 303, response.text[:500]
    return (await client.get(response.headers["location"])).text


def _ids(page) -> set[int]:
    return {int(i) for i in re.findall(r'href="/applicants/(\d+)"', page.text)}


async def test_decline_keeps_the_row_empties_the_rest_and_is_audited(client, db):
    admin = await _manager(db, client)
    applicant = await make_applicant(
        db, phone="555 0100", street_address="1 Spam Road", city="Botville", zip="12345"
    )
    await db.commit()
    outbox_before = await db.scalar(select(func.count()).select_from(OutboxMessage))
    await db.commit()
    response = await _decline(client, applicant, reason_details="sign-up bot")
    page = await _flash(client, response)
    assert "The applicant was declined. No email was sent to them." in page
    assert 'id="declined"' in page and "Spam: sign-up bot" in page
    assert "Create member</button>" not in page and "/decline" not in page
    await db.refresh(applicant)
    assert applicant.declined_at is not None and applicant.declined_by_id == admin.id
    assert applicant.decline_reason == "Spam: sign-up bot" and applicant.member_id is None
    # What the duplicate check compares stays; birth date and address go.
    assert (applicant.email, applicant.phone, applicant.sca_name) == (
        "alfred@example.org",
        "555 0100",
        "Aelfric of Testing",
    )
    assert applicant.birth_year is None and applicant.birth_month is None
    assert (applicant.street_address, applicant.city, applicant.zip) == ("", "", "")
    entry = (
        await db.execute(select(AuditEntry).where(AuditEntry.action == "applicant.declined"))
    ).scalar_one()
    assert (entry.actor_id, entry.entity_type, entry.entity_id) == (
        admin.id,
        "applicants",
        applicant.id,
    )
    assert entry.note == "Spam: sign-up bot" and entry.after is not None
    assert entry.after["decline_reason"] == "Spam: sign-up bot"
    assert "street_address" in entry.after["emptied_fields"]
    assert "1 Spam Road" not in str(entry.after)  # the audit log keeps no copy
    # No email to a declined applicant.
    assert await db.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_before


async def test_declined_applicants_leave_the_default_list_and_have_a_filter(client, db):
    await _manager(db, client)
    member = await make_member(db)
    pending = await make_applicant(db, email="p@example.org")
    declined = await make_applicant(db, email="d@example.org")
    created = await make_applicant(db, email="", member_id=member.id)
    await db.commit()
    await _decline(client, declined, reason_kind="withdrawn")
    assert _ids(await client.get("/applicants")) == {pending.id}
    assert _ids(await client.get("/applicants?f=1&pending=1")) == {pending.id}
    page = await client.get("/applicants?declined=1")
    assert _ids(page) == {declined.id}
    assert "declined</span>" in page.text and "Withdrawn by the applicant" in page.text
    assert _ids(await client.get("/applicants?f=1")) == {pending.id, declined.id, created.id}
    assert 'id="flt-declined"' in page.text


async def test_a_repeat_application_shows_the_declined_one_as_duplicate(client, db):
    await _manager(db, client)
    first = await make_applicant(db)
    await db.commit()
    await _decline(client, first, reason_kind="spam")
    again = await make_applicant(db)
    await db.commit()
    page = (await client.get(f"/applicants/{again.id}")).text
    assert f'href="/applicants/{first.id}"' in page
    assert f"declined {TODAY:%Y-%m-%d}: Spam" in page


async def test_a_declined_applicant_cannot_become_a_member(client, db):
    await _manager(db, client)
    applicant = await make_applicant(db)
    await db.commit()
    drawn_at = applicant.version
    await _decline(client, applicant)
    before = await _state(db, applicant.id)
    for version in (drawn_at, before["version"]):  # a stale page, and a forged request
        page = await _flash(client, await _create(client, applicant, version))
        assert "This applicant was declined, so no member can be created from it" in page
        assert await _state(db, applicant.id) == before


async def test_a_converted_applicant_cannot_be_declined(client, db):
    await _manager(db, client)
    applicant = await make_applicant(db)
    await db.commit()
    drawn_at = applicant.version
    await _flash(client, await _create(client, applicant, drawn_at))
    before = await _state(db, applicant.id)
    assert before["member_id"] is not None
    for version in (drawn_at, before["version"]):
        page = await _flash(client, await _decline(client, applicant, version=version))
        assert "A member was already created from this applicant, so it cannot be declined." in page
        assert await _state(db, applicant.id) == before


async def test_second_click_and_stale_page_change_nothing(client, db):
    await _manager(db, client)
    applicant = await make_applicant(db)
    other = await make_applicant(db, email="other@example.org")
    await db.commit()
    drawn_at = applicant.version
    await _decline(client, applicant, version=drawn_at)
    before = await _state(db, applicant.id)
    page = await _flash(client, await _decline(client, applicant, version=drawn_at))
    assert "This applicant was already declined; nothing changed." in page
    assert await _state(db, applicant.id) == before
    before_other = await _state(db, other.id)
    page = await _flash(client, await _decline(client, other, version=other.version + 3))
    assert "changed by someone else — reload" in page
    assert await _state(db, other.id) == before_other


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason_kind": ""}, "Reason is required."),
        ({"reason_kind": "because"}, "Reason: choose one of the listed options."),
        ({"reason_kind": "other", "reason_details": "  "}, "Describe the reason"),
        ({"reason_kind": "other", "reason_details": "x" * 501}, "at most 500 characters"),
        ({"reason_kind": "spam", "reason_details": "x" * 495}, "at most 500 characters"),
    ],
)
async def test_a_missing_or_overlong_reason_is_a_form_error(client, db, data, message):
    await _manager(db, client)
    applicant = await make_applicant(db)
    await db.commit()
    before = await _state(db, applicant.id)
    response = await _decline(client, applicant, **data)
    assert response.status_code == 400
    assert message in response.text and 'class="error"' in response.text
    assert "<details open>" in response.text  # the form stays open, with what was typed
    assert await _state(db, applicant.id) == before


async def test_the_longest_reason_is_accepted(client, db):
    await _manager(db, client)
    applicant = await make_applicant(db)
    await db.commit()
    await _decline(client, applicant, reason_kind="other", reason_details="y" * 500)
    await db.refresh(applicant)
    assert applicant.decline_reason == "y" * 500


async def test_decline_needs_manage_members_and_a_csrf_token(client, db):
    staff = await make_staff(db, ["verify_members"])
    applicant = await make_applicant(db)
    await db.commit()
    before = await _state(db, applicant.id)
    data = {"version": "1", "reason_kind": "spam"}
    response = await client.post(f"/applicants/{applicant.id}/decline", data=data)
    assert response.status_code == 403
    await login(client, staff.email)
    token = await csrf_from(client, "/login")
    response = await client.post(
        f"/applicants/{applicant.id}/decline", data={**data, "csrf_token": token}
    )
    assert response.status_code == 403
    assert await _state(db, applicant.id) == before


async def test_the_service_checks_the_reason_itself(db):
    admin = await make_staff(db, ["manage_members"])
    applicant = await make_applicant(db)
    await db.commit()
    for reason in ("   ", "z" * 501):
        with pytest.raises(decline.DeclineRefused, match="at most 500"):
            await decline.decline_applicant(db, applicant.id, 1, admin, reason)
        await db.rollback()


@pytest.mark.postgres_only
async def test_decline_and_create_at_once_one_wins(app, db):
    admin = await make_staff(db, ["manage_members"])
    applicant = await make_applicant(db)
    await db.commit()
    maker = app.state.sessionmaker
    site = {"site_title": "Tessera", "membership_office_email": ""}

    async with maker() as first, maker() as second, maker() as observer:
        actor = await first.get(Member, admin.id)
        await decline.decline_applicant(first, applicant.id, 1, actor, "Spam")  # holds the lock
        other_actor = await second.get(Member, admin.id)
        waiting = asyncio.create_task(
            creation.create_member(
                second, applicant.id, 1, other_actor, TODAY, site=site, base_url="http://x"
            )
        )
        async with asyncio.timeout(10):
            while not waiting.done() and not await observer.scalar(
                text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            ):
                await observer.rollback()
                await asyncio.sleep(0.01)
        assert not waiting.done(), "Create member did not wait for the decline"
        await first.commit()
        with pytest.raises(creation.CreationRefused, match="was declined"):
            await waiting
        await second.rollback()
    assert await db.scalar(select(func.count()).select_from(Member)) == 1  # the admin only
