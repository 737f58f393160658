"""The applicant list filters and the applicant detail page (duplicates, blockers, info box)."""

from __future__ import annotations

import datetime as dt
import re

from tests.applicant_fixtures import fill_seats, make_agreement, make_applicant
from tests.factories import login, make_branch, make_member, make_staff


async def _manager(db, client):
    admin = await make_staff(db, ["manage_members"])
    await db.commit()
    await login(client, admin.email)
    return admin


def _ids(page) -> set[int]:
    return {int(i) for i in re.findall(r'href="/applicants/(\d+)"', page.text)}


async def test_list_filters(client, db):
    await _manager(db, client)
    sponsored = await make_branch(db, "Barony of Sponsors")
    other = await make_branch(db, "Shire of Elsewhere")
    await make_agreement(db, "SPONSOR", branch_id=sponsored.id)
    await make_agreement(
        db,
        "EXPIRED",
        branch_id=other.id,
        starts_on=dt.date(2000, 1, 1),
        ends_on=dt.date(2001, 1, 1),
    )
    member = await make_member(db)
    pending = await make_applicant(
        db, email="p@example.org", member_code="SPONSOR", branch_id=sponsored.id
    )
    override = await make_applicant(
        db, email="o@example.org", member_code="BAD", code_override=True
    )
    no_code = await make_applicant(db, email="n@example.org", branch_id=sponsored.id)
    no_code_other = await make_applicant(db, email="n2@example.org", branch_id=other.id)
    created = await make_applicant(db, email="", member_id=member.id)
    await db.commit()
    default = await client.get("/applicants")
    assert _ids(default) == {pending.id, override.id, no_code.id, no_code_other.id}
    assert _ids(await client.get("/applicants?created=1")) == {created.id}
    assert _ids(await client.get("/applicants?override=1")) == {override.id}
    assert _ids(await client.get("/applicants?has_code=1")) == {pending.id, override.id}
    page = await client.get("/applicants?agreement_no_code=1")
    assert _ids(page) == {no_code.id}
    assert "override used" in (await client.get("/applicants?override=1")).text
    everything = await client.get("/applicants?f=1")
    assert len(_ids(everything)) == 5


async def test_detail_lists_duplicates_with_links(client, db):
    await _manager(db, client)
    same_email = await make_member(db, email="Twin@Example.org")
    same_name = await make_member(db, first_name="Alfred", last_name="TESTER")
    same_phone = await make_member(db, phone="555-010-2030")
    unrelated = await make_member(db, first_name="Zed", phone="999")
    other = await make_applicant(db, email="other@example.org", phone="(555) 010 2030")
    applicant = await make_applicant(db, email="twin@example.org", phone="5550102030")
    await db.commit()
    page = await client.get(f"/applicants/{applicant.id}")
    assert page.status_code == 200
    text = page.text
    assert f'href="/members/{same_email.id}"' in text
    assert f'href="/members/{same_name.id}"' in text
    assert f'href="/members/{same_phone.id}"' in text
    assert f'href="/applicants/{other.id}"' in text
    assert f'href="/members/{unrelated.id}"' not in text
    assert "same email" in text and "same legal name" in text and "same phone" in text
    # The email belongs to a member: creation is blocked, and the page says why.
    assert "A member already has this email address" in text
    assert re.search(r"<button type=\"submit\" disabled>Create member", text)


async def test_a_member_with_the_same_sca_name_is_a_possible_duplicate(client, db):
    """Someone who applies again under the name they go by, with their legal name spelt
    differently and a new address, is still shown beside the member they already are."""
    await _manager(db, client)
    known = await make_member(db, sca_name="Eadric the Wanderer", first_name="Edward")
    applicant = await make_applicant(
        db, sca_name="  eadric the wanderer ", first_name="Ed", email="new@example.org"
    )
    await db.commit()
    page = await client.get(f"/applicants/{applicant.id}")
    assert f'href="/members/{known.id}"' in page.text
    assert "same SCA name" in page.text


async def test_a_name_with_letters_beyond_ascii_is_found_as_a_duplicate(client, db):
    """SCA names are full of Æ, Þ and Ø: an applicant under exactly a member's name is
    shown beside that member on SQLite as on PostgreSQL (SQLite's lower() leaves them be,
    and Python's did not, so the two never met)."""
    await _manager(db, client)
    known = await make_member(
        db, sca_name="Ælfric Þórsson", first_name="Øyvind", last_name="Ødegård"
    )
    applicant = await make_applicant(
        db,
        sca_name=" Ælfric Þórsson ",
        first_name="Øyvind",
        last_name="Ødegård",
        email="new@example.org",
    )
    await db.commit()
    page = await client.get(f"/applicants/{applicant.id}")
    assert f'href="/members/{known.id}"' in page.text
    assert "same SCA name" in page.text and "same legal name" in page.text


async def test_agreement_info_box(client, db):
    await _manager(db, client)
    active = await make_agreement(db, "FULL", organisation="Full House", seats=1)
    await fill_seats(db, active, 1)
    await make_agreement(db, "OK", organisation="Open House", seats=3)
    await make_agreement(
        db,
        "PAST",
        organisation="Old House",
        starts_on=dt.date(2000, 1, 1),
        ends_on=dt.date(2000, 2, 1),
    )
    full = await make_applicant(db, email="a@example.org", member_code="full")
    ok = await make_applicant(db, email="b@example.org", member_code="ok")
    past = await make_applicant(db, email="c@example.org", member_code="past")
    unknown = await make_applicant(db, email="d@example.org", member_code="nope")
    await db.commit()
    page = (await client.get(f"/applicants/{full.id}")).text
    assert "Full House" in page and 'data-warning="yes"' in page and "none remaining" in page
    page = (await client.get(f"/applicants/{ok.id}")).text
    assert "Open House" in page and 'data-warning="no"' in page and "<strong>3</strong>" in page
    page = (await client.get(f"/applicants/{past.id}")).text
    assert "not active today" in page and 'data-warning="yes"' in page
    page = (await client.get(f"/applicants/{unknown.id}")).text
    assert "No agreement found for this code." in page and 'data-warning="yes"' in page


async def test_applicant_pages_need_manage_members(client, db):
    staff = await make_staff(db, ["verify_members"])
    applicant = await make_applicant(db)
    await db.commit()
    await login(client, staff.email)
    assert (await client.get("/applicants")).status_code == 403
    assert (await client.get(f"/applicants/{applicant.id}")).status_code == 403
    assert (await client.get("/applicants/abc")).status_code in (403, 404)


async def test_pages_keep_the_filters(client, db, monkeypatch):
    from server.applicants import admin_routes

    monkeypatch.setattr(admin_routes, "PAGE_SIZE", 2)
    await _manager(db, client)
    member = await make_member(db)
    for n in range(3):
        await make_applicant(db, email=f"a{n}@example.org")
    done = await make_applicant(db, email="", member_id=member.id)
    await db.commit()
    first = await client.get("/applicants")
    assert len(_ids(first)) == 2 and 'href="/applicants?f=1&amp;pending=1&amp;page=2"' in first.text
    second = await client.get("/applicants?f=1&pending=1&page=2")
    assert len(_ids(second)) == 1 and done.id not in _ids(second)


async def test_emails_and_names_differing_in_non_ascii_case_are_duplicates_on_both_databases(
    client, db
):
    """ "ÉVA@example.org" and "éva@example.org" are one address, "ÆLFRIC" and "ælfric" one
    name: the applicant page shows the member and the earlier applicant on SQLite as on
    PostgreSQL (SQLite's own lower() folds only ASCII)."""
    await _manager(db, client)
    known = await make_member(
        db, email="ÉVA@example.org", sca_name="ÆLFRIC ÞÓRSSON", first_name="Éva", last_name="Örn"
    )
    earlier = await make_applicant(db, email="ÉVA@EXAMPLE.ORG", sca_name="Someone Else")
    applicant = await make_applicant(
        db, email="éva@example.org", sca_name="ælfric þórsson", first_name="ÉVA", last_name="ÖRN"
    )
    await db.commit()
    page = await client.get(f"/applicants/{applicant.id}")
    assert f'href="/members/{known.id}"' in page.text
    assert f'href="/applicants/{earlier.id}"' in page.text
    for reason in ("same email", "same SCA name", "same legal name"):
        assert reason in page.text
    # Creating the member is refused for the address taken (two members cannot share one).
    assert "A member already has this email address" in page.text
