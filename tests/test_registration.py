"""Public registration (brief §3, §4): inline errors, minors, member codes, autoresponse."""

from __future__ import annotations

import html

from sqlalchemy import select

from server.applicants.models import Applicant
from tests.applicant_fixtures import TODAY, make_agreement, outbox, set_site
from tests.factories import csrf_from, make_branch

MINOR_YEAR = TODAY.year - 12


async def _form(client, **overrides):
    token = await csrf_from(client, "/register")
    data = {
        "csrf_token": token,
        "sca_name": "Brianna the Bold",
        "first_name": "Brianna",
        "last_name": "Bold",
        "email": "brianna@example.org",
        "birth_month": "4",
        "birth_year": str(TODAY.year - 25),
        "accept_terms": "on",
        **overrides,
    }
    return await client.post("/register", data={k: v for k, v in data.items() if v is not None})


async def _applicants(db):
    rows = (await db.execute(select(Applicant))).scalars().all()
    await db.commit()
    return rows


async def test_registration_creates_an_applicant_and_queues_the_autoresponse(client, db):
    branch = await make_branch(db)
    await db.commit()
    page = await client.get("/register")
    assert "Apply for membership" in page.text and "I accept the organisation" in page.text
    response = await _form(client, branch_id=str(branch.id), phone="+1 (555) 010-2030")
    assert response.status_code == 200
    assert "Thank you, Brianna the Bold" in response.text
    [applicant] = await _applicants(db)
    assert applicant.email == "brianna@example.org" and applicant.member_id is None
    assert applicant.branch_id == branch.id and applicant.terms_accepted_at is not None
    [mail] = await outbox(db, "application_received")
    assert mail.to_addr == "brianna@example.org"
    assert "You did not give a member code." in mail.body_text


async def test_a_long_site_title_still_lets_people_apply(client, db):
    """The site title (the settings page takes up to 2,000 characters) heads every email
    subject; past the outbox's 300 the applicant's form was a 500 on PostgreSQL. The
    subject is cut, with an ellipsis."""
    branch = await make_branch(db)
    await set_site(db, "site_title", "The Most Noble and Ancient Kingdom " * 12)
    response = await _form(client, branch_id=str(branch.id))
    assert response.status_code == 200
    assert "Thank you, Brianna the Bold" in response.text
    [mail] = await outbox(db, "application_received")
    assert len(mail.subject) <= 300 and mail.subject.endswith("and…")
    assert mail.subject.startswith("The Most Noble and Ancient Kingdom The Most")


async def test_required_and_format_errors_are_shown_inline(client, db):
    await make_branch(db)
    await db.commit()
    response = await _form(
        client,
        sca_name="",
        email="not-an-email",
        birth_month="13",
        birth_year="abc",
        phone="call me",
        accept_terms=None,
    )
    assert response.status_code == 400
    text = html.unescape(response.text)
    for message in (
        "SCA name is required.",
        "Email is not a valid email address.",
        "Birth month must be between 1 and 12.",
        "Birth year must be a whole number.",
        "Branch is required.",
        "Phone may contain digits",
        "You must accept the terms to apply.",
    ):
        assert message in text
    assert 'id="e-email"' in response.text  # next to its field
    assert 'value="Brianna"' in response.text  # what was typed is kept
    assert await _applicants(db) == []


async def test_minors_are_told_a_parent_must_be_linked(client, db):
    response = await _form(client, birth_year=str(MINOR_YEAR))
    assert response.status_code == 200
    assert "a parent or guardian who is a member must be linked" in response.text
    [mail] = await outbox(db, "application_received")
    assert "Because you are under 18, a parent or guardian who is a member" in mail.body_text


async def test_registration_can_be_closed(client, db):
    await set_site(db, "registration_open", False)
    assert (await client.get("/register")).status_code == 404
    token = await csrf_from(client, "/login")
    response = await client.post("/register", data={"csrf_token": token, "email": "x@example.org"})
    assert response.status_code == 404 and "registration is closed" in response.text
    assert await _applicants(db) == []


async def test_bad_code_shows_reason_and_reveals_submit_anyway(client, db):
    response = await _form(client, member_code="NOPE")
    assert response.status_code == 400
    assert "This member code is unknown" in response.text
    assert 'name="code_override"' in response.text
    assert await _applicants(db) == []
    response = await _form(client, member_code="NOPE", code_override="on")
    assert response.status_code == 200
    [applicant] = await _applicants(db)
    assert applicant.member_code == "NOPE" and applicant.code_override is True
    [mail] = await outbox(db, "application_received")
    assert "you gave the code NOPE" in mail.body_text
    assert "could not be confirmed (This member code is unknown" in mail.body_text


async def test_expired_and_full_codes_give_their_reasons(client, db):
    await make_agreement(
        db, "OLD", starts_on=TODAY.replace(year=2000), ends_on=TODAY.replace(year=2001)
    )
    await make_agreement(db, "FULL", seats=0)
    await db.commit()
    response = await _form(client, member_code="old")
    assert "not active at the moment" in response.text
    response = await _form(client, member_code="full")
    assert "no seats remaining" in response.text


async def test_valid_code_with_box_ticked_saves_false(client, db):
    await make_agreement(db, "ACME-2026", organisation="Acme Guild")
    await db.commit()
    response = await _form(client, member_code=" acme-2026 ", code_override="on")
    assert response.status_code == 200
    [applicant] = await _applicants(db)
    assert applicant.code_override is False
    [mail] = await outbox(db, "application_received")
    assert "you gave the code acme-2026 (Acme Guild)" in mail.body_text
    assert "could not be confirmed" not in mail.body_text


async def test_flag_off_accepts_every_code(client, db):
    await set_site(db, "ENFORCE_MEMBER_CODES", False)
    response = await _form(client, member_code="ANYTHING")
    assert response.status_code == 200
    [applicant] = await _applicants(db)
    assert applicant.member_code == "ANYTHING" and applicant.code_override is False


async def test_registration_is_rate_limited(client, db):
    for _ in range(20):
        await _form(client, sca_name="")
    response = await _form(client)
    assert response.status_code == 429 and "Too many applications" in response.text
    assert response.headers["retry-after"]
    assert await _applicants(db) == []


async def test_the_form_sent_twice_makes_one_applicant_and_one_email(client, db):
    """A double click on "Apply" (both posts at once, then a reload that posts again):
    one applicant for the office, one autoresponse; every answer thanks the applicant."""
    import asyncio

    branch_id = str((await make_branch(db)).id)
    await db.commit()
    answers = await asyncio.gather(
        _form(client, branch_id=branch_id), _form(client, branch_id=branch_id)
    )
    answers.append(await _form(client, branch_id=branch_id))
    assert all("Thank you, Brianna the Bold" in r.text for r in answers)
    assert len(await _applicants(db)) == 1
    assert len(await outbox(db, "application_received")) == 1
    # A different answer is a new application, which the office sees as a possible duplicate.
    await _form(client, branch_id=branch_id, phone="+1 555 010 9999")
    assert len(await _applicants(db)) == 2


async def test_an_email_with_capital_letters_beyond_ascii_sent_twice_makes_one_applicant(
    client, db
):
    """The repeated form is recognised by its email ignoring case — on SQLite too, whose
    own lower() leaves É as it is (it made two applicants there, one on PostgreSQL)."""
    branch_id = str((await make_branch(db)).id)
    await db.commit()
    for _ in range(2):
        answer = await _form(client, branch_id=branch_id, email="ÉVA.ØRN@example.org")
        assert "Thank you, Brianna the Bold" in answer.text
    assert len(await _applicants(db)) == 1
    assert len(await outbox(db, "application_received")) == 1
