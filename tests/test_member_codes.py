"""Member codes (brief §4): the rules of server.member_codes.validation and the agreements admin."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.member_codes.models import Agreement
from server.member_codes.validation import (
    CodeResult,
    find_agreement,
    is_active_on,
    seats_remaining,
    validate_code,
)
from tests.applicant_fixtures import TODAY, fill_seats, make_agreement, set_site
from tests.factories import csrf_from, login, make_staff, two_admins_on

START, END = dt.date(2026, 3, 1), dt.date(2026, 6, 30)


@pytest.mark.parametrize(
    ("day", "active"),
    [
        (START - dt.timedelta(days=30), True),  # exactly start − grace
        (START - dt.timedelta(days=31), False),  # one day before
        (END + dt.timedelta(days=30), True),  # exactly end + grace
        (END + dt.timedelta(days=31), False),  # one day after
        (START, True),
        (END, True),
    ],
)
def test_active_on_a_date_with_inclusive_grace(day, active):
    agreement = Agreement(starts_on=START, ends_on=END)
    assert is_active_on(agreement, day, 30) is active
    assert is_active_on(agreement, START - dt.timedelta(days=1), 0) is False


async def test_grace_boundaries_through_validation(db):
    await make_agreement(db, "GRACE", starts_on=START, ends_on=END)
    await set_site(db, "member_code_grace_days", 10)
    on_edge = await validate_code(db, "grace", END + dt.timedelta(days=10))
    outside = await validate_code(db, "grace", END + dt.timedelta(days=11))
    before = await validate_code(db, "grace", START - dt.timedelta(days=11))
    assert on_edge.result is CodeResult.OK
    assert outside.result is CodeResult.NOT_ACTIVE
    assert before.result is CodeResult.NOT_ACTIVE
    assert outside.message == "This member code is not active at the moment."


async def test_lookup_ignores_case_and_surrounding_spaces(db):
    agreement = await make_agreement(db, "Acme-2026")
    assert (await find_agreement(db, "  aCmE-2026 ")).id == agreement.id
    assert await find_agreement(db, "acme 2026") is None
    assert await find_agreement(db, "   ") is None


@pytest.mark.parametrize(
    ("seats", "used", "remaining", "result"),
    [
        (1, 0, 1, CodeResult.OK),
        (1, 1, 0, CodeResult.NO_SEATS),
        (1, 2, -1, CodeResult.NO_SEATS),
    ],
)
async def test_seats_remaining(db, seats, used, remaining, result):
    agreement = await make_agreement(db, "SEATS", seats=seats)
    await fill_seats(db, agreement, used)
    assert await seats_remaining(db, agreement) == remaining
    check = await validate_code(db, "seats", TODAY)
    assert check.result is result
    if result is CodeResult.NO_SEATS:
        assert check.message == "This member code has no seats remaining."


async def test_unknown_code_and_flag_off(db):
    check = await validate_code(db, "NOPE", TODAY)
    assert check.result is CodeResult.UNKNOWN and "unknown" in check.message
    expired = await make_agreement(
        db, "OLD", starts_on=dt.date(2020, 1, 1), ends_on=dt.date(2020, 12, 31), seats=0
    )
    await set_site(db, "ENFORCE_MEMBER_CODES", False)
    assert (await validate_code(db, "NOPE", TODAY)).ok
    off = await validate_code(db, "old", TODAY)
    assert off.ok and off.agreement.id == expired.id


async def _manager(db, client):
    admin = await make_staff(db, ["manage_members"])
    await db.commit()
    await login(client, admin.email)
    return admin


async def test_agreements_admin_create_edit_extend(client, db):
    await _manager(db, client)
    token = await csrf_from(client, "/member-codes/new")
    data = {
        "csrf_token": token,
        "organisation": "Guild of Smiths",
        "code": " Smith-1 ",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "seats": "2",
    }
    response = await client.post("/member-codes/new", data=data)
    assert response.status_code == 303
    agreement = (await db.execute(select(Agreement))).scalar_one()
    await db.commit()
    assert (agreement.code, agreement.code_key, agreement.seats) == ("Smith-1", "smith-1", 2)
    # The same code in another case is refused with a message.
    response = await client.post("/member-codes/new", data={**data, "code": "SMITH-1"})
    assert response.status_code == 400 and "already uses this code" in response.text
    response = await client.post("/member-codes/new", data={**data, "ends_on": "2025-01-01"})
    assert "must not be before the start date" in response.text
    # 60 characters that lowering makes 120 ("İ" lowers to two): too long for the key
    # (it was a 500 on PostgreSQL).
    response = await client.post("/member-codes/new", data={**data, "code": "\u0130" * 60})
    assert response.status_code == 400 and "Code must be at most 60 characters" in response.text
    assert len((await db.execute(select(Agreement))).all()) == 1
    await db.commit()
    # Edit.
    response = await client.post(
        f"/member-codes/{agreement.id}", data={**data, "seats": "5", "organisation": "Smiths"}
    )
    assert response.status_code == 303
    await db.refresh(agreement)
    await db.commit()
    assert (agreement.seats, agreement.organisation) == (5, "Smiths")
    # Extend: only to a later date.
    response = await client.post(
        f"/member-codes/{agreement.id}/extend", data={"csrf_token": token, "ends_on": "2026-06-01"}
    )
    page = await client.get(response.headers["location"])
    assert "must be after the current one" in page.text
    await client.post(
        f"/member-codes/{agreement.id}/extend", data={"csrf_token": token, "ends_on": "2027-06-30"}
    )
    await db.refresh(agreement)
    assert agreement.ends_on == dt.date(2027, 6, 30)
    actions = (
        (
            await db.execute(
                select(AuditEntry.action).where(AuditEntry.entity_type == "member_code_agreements")
            )
        )
        .scalars()
        .all()
    )
    assert actions == ["agreement.create", "agreement.update", "agreement.extend"]


async def test_agreement_list_shows_negative_remaining(client, db):
    await _manager(db, client)
    agreement = await make_agreement(db, "OVER", seats=1)
    await fill_seats(db, agreement, 2)
    await db.commit()
    page = await client.get("/member-codes")
    assert page.status_code == 200
    assert "OVER" in page.text and ">-1<" in page.text


async def test_agreements_need_manage_members(client, db):
    staff = await make_staff(db, ["verify_members"])
    await db.commit()
    await login(client, staff.email)
    assert (await client.get("/member-codes")).status_code == 403
    token = await csrf_from(client, "/login")
    response = await client.post(
        "/member-codes/new", data={"csrf_token": token, "organisation": "X", "code": "X"}
    )
    assert response.status_code == 403
    assert await db.scalar(select(Agreement.id)) is None


async def test_a_stale_agreement_page_does_not_undo_another_admins_save(app, client, db):
    """Two admins open the same agreement; the first adds seats, the second (whose page
    still shows the old number) fixes the organisation's name: the seats stay."""
    from tests.reload import reload

    first = await make_staff(db, ["manage_members"])
    second = await make_staff(db, ["manage_members"])
    agreement = await make_agreement(db, "ACME", seats=2, organisation="Acme")
    await db.commit()
    path = f"/member-codes/{agreement.id}"
    other, mine, theirs = await two_admins_on(app, client, (first.email, second.email), path)
    shown = {
        "organisation": "Acme",
        "code": "ACME",
        "starts_on": agreement.starts_on.isoformat(),
        "ends_on": agreement.ends_on.isoformat(),
        "seats": "2",
    }
    forms = {client: {**mine, **shown}, other: {**theirs, **shown}}
    assert (await client.post(path, data={**forms[client], "seats": "10"})).status_code == 303
    stale = await other.post(path, data={**forms[other], "organisation": "Acme Ltd"})
    assert stale.status_code == 409 and "Someone else saved this" in stale.text
    assert 'value="10"' in stale.text  # the page shows the agreement as saved now
    await reload(db, agreement)
    assert (agreement.seats, agreement.organisation) == (10, "Acme")
    await other.aclose()
