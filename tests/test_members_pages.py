from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from server.audit.models import AuditEntry
from server.groups.models import GroupMembership
from server.members.models import Member
from tests.factories import csrf_from, login, make_branch, make_group, make_member, make_staff
from tests.reload import reload


async def _staff_client(client, db, permissions=("manage_members",)):
    staff = await make_staff(db, list(permissions))
    await db.commit()
    await login(client, staff.email)
    return staff


def _edit_data(member: Member, **changes) -> dict:
    data = {
        "version": str(member.version),
        "sca_name": member.sca_name,
        "first_name": member.first_name,
        "middle_name": member.middle_name,
        "last_name": member.last_name,
        "email": member.email,
        "birth_month": str(member.birth_month or ""),
        "birth_year": str(member.birth_year or ""),
    }
    data.update(changes)
    return data


async def test_list_searches_filters_and_pages(client, db):
    kingdom = await make_branch(db, "Kingdom of Tests", kind="kingdom")
    shire = await make_branch(db, "Shire of Below", parent_id=kingdom.id)
    await make_member(db, sca_name="Aelfric the Bold", branch_id=shire.id)
    await make_member(db, sca_name="Brigid of Nowhere", membership_number="X-4711")
    for n in range(55):
        await make_member(db, sca_name=f"Filler {n:02d}", branch_id=kingdom.id)
    deleted = await make_member(db, sca_name="Aelfric the Gone")
    deleted.deleted_at = deleted.created_at
    deleted.email_key = None
    await _staff_client(client, db)

    response = await client.get("/members", params={"q": "aelfric"})
    assert "Aelfric the Bold" in response.text and "Aelfric the Gone" not in response.text
    assert "1 member found" in response.text
    response = await client.get("/members", params={"q": "x-4711"})
    assert "Brigid of Nowhere" in response.text
    # The branch filter includes the branches below the chosen one.
    response = await client.get("/members", params={"branch": str(kingdom.id)})
    assert "56 members found" in response.text and "Aelfric the Bold" in response.text
    response = await client.get("/members", params={"branch": str(kingdom.id), "page": "2"})
    assert "Page 2 of 2" in response.text
    assert len(re.findall(r'href="/members/\d+"', response.text)) == 6
    response = await client.get("/members", params={"status": "minor_verified"})
    assert "0 members found" in response.text
    # Malformed query strings are ignored, never a 500.
    response = await client.get("/members", params={"page": "-1", "branch": "x", "q": "%_\\"})
    assert response.status_code == 200


async def test_detail_shows_memberships_in_three_phases(client, db):
    import datetime as dt

    member = await make_member(db, sca_name="Cedric")
    today = dt.date.today()
    for name, since, until in (
        ("Current Office", today - dt.timedelta(days=10), None),
        ("Future Office", today + dt.timedelta(days=10), None),
        ("Old Office", dt.date(2010, 1, 1), dt.date(2011, 1, 1)),
    ):
        group = await make_group(db, name=name)
        db.add(
            GroupMembership(
                group_id=group.id,
                member_id=member.id,
                since=since,
                until=until,
                role=f"{name} role",
            )
        )
    await _staff_client(client, db)
    response = await client.get(f"/members/{member.id}")
    assert response.status_code == 200
    text = response.text
    assert text.index("Current Office") < text.index("Future Office") < text.index("Old Office")
    assert (
        text.index("<h3>Current</h3>")
        < text.index("Current Office")
        < text.index("<h3>Upcoming</h3>")
    )
    assert (await client.get("/members/999999")).status_code == 404
    assert (await client.get("/members/99999999999999999999")).status_code == 404


async def test_edit_saves_audits_and_refreshes_status(client, db):
    member = await make_member(db, sca_name="Dagny", birth_month=1, birth_year=1990)
    staff = await _staff_client(client, db)
    token = await csrf_from(client, f"/members/{member.id}/edit")
    # A minor's birth year turns an active adult into an unverified minor.
    data = _edit_data(
        member,
        sca_name="Dagny Strongarm",
        birth_year=str(dt.date.today().year - 10),
        csrf_token=token,
    )
    response = await client.post(f"/members/{member.id}/edit", data=data)
    assert response.status_code == 303
    await reload(db, member)
    assert member.sca_name == "Dagny Strongarm"
    assert member.status == "minor_unverified"
    assert member.modified_by_id == staff.id
    entry = (
        await db.execute(select(AuditEntry).where(AuditEntry.action == "member.update"))
    ).scalar_one()
    assert entry.actor_id == staff.id and entry.member_id == member.id
    assert entry.before["sca_name"] == "Dagny" and entry.after["sca_name"] == "Dagny Strongarm"
    assert entry.before["status"] == "active" and entry.after["status"] == "minor_unverified"
    await db.commit()
    page = await client.get(f"/members/{member.id}/audit")
    assert "Dagny Strongarm" in page.text and "member.update" in page.text


async def test_stale_version_is_refused(client, db):
    member = await make_member(db, sca_name="Eirik")
    await _staff_client(client, db)
    token = await csrf_from(client, f"/members/{member.id}/edit")
    stale = _edit_data(member, sca_name="First", csrf_token=token)
    assert (await client.post(f"/members/{member.id}/edit", data=stale)).status_code == 303
    stale["sca_name"] = "Second"
    response = await client.post(f"/members/{member.id}/edit", data=stale)
    assert response.status_code == 409
    assert "changed by someone else" in response.text
    await reload(db, member)
    assert member.sca_name == "First"


async def test_email_must_be_unique_case_insensitively(client, db):
    await make_member(db, email="taken@example.org")
    member = await make_member(db, email="free@example.org")
    await _staff_client(client, db)
    token = await csrf_from(client, f"/members/{member.id}/edit")
    data = _edit_data(member, email="TAKEN@Example.org", csrf_token=token)
    response = await client.post(f"/members/{member.id}/edit", data=data)
    assert response.status_code == 400
    assert "Another member already uses this email address." in response.text
    await reload(db, member)
    assert member.email == "free@example.org"
    # Changing only the case of one's own address is fine.
    data = _edit_data(member, email="Free@Example.org", csrf_token=token)
    assert (await client.post(f"/members/{member.id}/edit", data=data)).status_code == 303


async def test_an_email_that_grows_when_lowered_is_refused(client, db):
    """The address is stored as typed and lowered (the login key); "İ" lowers to two
    characters, so 252 typed ones became 492 and PostgreSQL refused the save (a 500)."""
    member = await make_member(db, email="free@example.org")
    await _staff_client(client, db)
    token = await csrf_from(client, f"/members/{member.id}/edit")
    data = _edit_data(member, email="\u0130" * 240 + "@example.org", csrf_token=token)
    response = await client.post(f"/members/{member.id}/edit", data=data)
    assert response.status_code == 400
    assert "Email must be at most 254 characters." in response.text
    await reload(db, member)
    assert member.email == "free@example.org"


async def test_form_errors_change_nothing(client, db):
    member = await make_member(db, sca_name="Frida")
    await _staff_client(client, db)
    token = await csrf_from(client, f"/members/{member.id}/edit")
    data = _edit_data(
        member,
        sca_name="Changed",
        email="not an email",
        birth_month="13",
        membership_expires_on="2024-02-30",
        csrf_token=token,
    )
    response = await client.post(f"/members/{member.id}/edit", data=data)
    assert response.status_code == 400
    assert "not a valid email address" in response.text
    assert "must be a date" in response.text
    await reload(db, member)
    assert member.sca_name == "Frida"
    count = len((await db.execute(select(AuditEntry))).all())
    assert count == 0


async def test_member_without_permission_is_kept_out(client, db):
    member = await make_member(db)
    await _staff_client(client, db, permissions=("check_cards",))
    assert (await client.get("/members")).status_code == 403
    assert (await client.get(f"/members/{member.id}/edit")).status_code == 403
