from __future__ import annotations

import json

from sqlalchemy import select

from server.audit.models import AuditEntry
from server.settings.registry import get_definition
from server.settings.store import set_setting
from tests.factories import PASSWORD, csrf_from, login, make_member, make_staff
from tests.reload import reload

FIELDS = [
    {"key": "household", "label": "Household", "type": "text", "member_editable": True},
    {
        "key": "tshirt",
        "label": "T-shirt size",
        "type": "select",
        "options": ["S", "M", "L"],
        "member_editable": True,
    },
    {"key": "award", "label": "Award", "type": "text", "public": True},
    {"key": "staff_only", "label": "Staff remark", "type": "text"},
]


async def test_home_sends_members_to_their_profile_and_staff_to_the_dashboard(client, db):
    member = await make_member(db, sca_name="Gunnhild", public_notes="Likes archery")
    await db.commit()
    assert (await client.get("/")).headers["location"].startswith("/login")
    await login(client, member.email)
    response = await client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/me"
    page = await client.get("/me")
    assert "Gunnhild" in page.text and "Likes archery" in page.text

    staff = await make_staff(db, ["manage_members"])
    await db.commit()
    await login(client, staff.email)
    page = await client.get("/")
    assert page.status_code == 200
    assert 'href="/members"' in page.text and "Members by status" in page.text


async def test_member_edits_only_their_editable_fields(client, db):
    fields = get_definition("additional_info_fields").parse(json.dumps(FIELDS))
    await set_setting(db, "additional_info_fields", fields, actor_id=None)
    member = await make_member(
        db, additional_info={"award": "Order of the Rose", "staff_only": "secret remark"}
    )
    await db.commit()
    await login(client, member.email)
    page = await client.get("/me")
    assert "Order of the Rose" in page.text and "secret remark" not in page.text
    token = await csrf_from(client, "/me")
    response = await client.post(
        "/me/info",
        data={
            "csrf_token": token,
            "version": str(member.version),
            "info_household": "Hall",
            "info_tshirt": "M",
            "info_award": "Forged",
            "info_staff_only": "Forged",
        },
    )
    assert response.status_code == 303
    await reload(db, member)
    assert member.additional_info == {
        "award": "Order of the Rose",
        "staff_only": "secret remark",
        "household": "Hall",
        "tshirt": "M",
    }
    # A value outside the options is a form error; nothing changes.
    response = await client.post(
        "/me/info",
        data={"csrf_token": token, "version": str(member.version), "info_tshirt": "XXL"},
    )
    assert response.status_code == 400 and "choose one of the listed options" in response.text
    await reload(db, member)
    assert member.additional_info["tshirt"] == "M"


async def test_change_password_keeps_this_session_and_audits(client, db):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    token = await csrf_from(client, "/me")
    wrong = await client.post(
        "/me/password",
        data={
            "csrf_token": token,
            "current_password": "nope",
            "password": "a new password 1",
            "password_again": "a new password 1",
        },
    )
    assert wrong.status_code == 400 and "current password is not right" in wrong.text
    short = await client.post(
        "/me/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "password": "short",
            "password_again": "short",
        },
    )
    assert short.status_code == 400 and "at least 10" in short.text
    ok = await client.post(
        "/me/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "password": "a new password 1",
            "password_again": "a new password 1",
        },
    )
    assert ok.status_code == 303
    assert (await client.get("/me")).status_code == 200  # still logged in
    entries = (await db.execute(select(AuditEntry.action))).scalars().all()
    assert entries == ["member.password_change"]
    await db.commit()
    assert (await login(client, member.email, PASSWORD)).status_code == 400
    assert (await login(client, member.email, "a new password 1")).status_code == 303
