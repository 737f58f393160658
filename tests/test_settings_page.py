from __future__ import annotations

import re

from sqlalchemy import select

from server.audit.models import AuditEntry
from server.settings.registry import definitions
from server.settings.store import load_settings
from tests.factories import csrf_from, login, make_staff


def _form_values(html: str) -> dict[str, str]:
    """The settings form as the browser would submit it unchanged."""
    data: dict[str, str] = {}
    for name, value in re.findall(r'<input id="f-[^"]+" name="([^"]+)" value="([^"]*)"', html):
        data[name] = value.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
    for name, checked in re.findall(r'name="([^"]+)" type="checkbox" (checked)?', html):
        if checked:
            data[name] = "on"
    for name, value in re.findall(
        r'<textarea id="f-[^"]+" name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S
    ):
        data[name] = value.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
    seen = re.search(r'<input type="hidden" name="seen" value="([^"]*)"', html)
    if seen:  # which saved settings the page was drawn from
        data["seen"] = seen.group(1)
    return data


async def _settings_admin(client, db) -> str:
    """Logged in as an admin with ``manage_settings``; the settings form's CSRF token."""
    staff = await make_staff(db, ["manage_settings"])
    await db.commit()
    await login(client, staff.email)
    return await csrf_from(client, "/admin/settings")


async def test_settings_are_validated_saved_and_audited(client, db):
    staff = await make_staff(db, ["manage_settings"])
    await db.commit()
    await login(client, staff.email)
    page = await client.get("/admin/settings")
    assert page.status_code == 200
    data = _form_values(page.text)
    assert {d.key for d in definitions()} - {"registration_open", "ENFORCE_MEMBER_CODES"} <= set(
        data
    )
    token = await csrf_from(client, "/admin/settings")

    bad = {
        **data,
        "csrf_token": token,
        "site_title": "Changed",
        "card_color": "purple",
        "member_code_grace_days": "-5",
        "contact_email": "nope",
        "additional_info_fields": '[{"key": "Bad Key"}]',
    }
    response = await client.post("/admin/settings", data=bad)
    assert response.status_code == 400
    for message in (
        "enter a colour like #1a2b3c",
        "must be at least 0",
        "enter a valid email address",
        "bad or repeated key",
    ):
        assert message in response.text
    assert (await load_settings(db))["site_title"] == "Tessera"
    assert (await db.execute(select(AuditEntry))).first() is None
    await db.commit()

    good = {
        **data,
        "csrf_token": token,
        "site_title": "Example Register",
        "member_code_grace_days": "14",
        "additional_info_fields": '[{"key": "household", "type": "text", "member_editable": true}]',
    }
    good.pop("ENFORCE_MEMBER_CODES", None)  # unticked checkbox: off
    response = await client.post("/admin/settings", data=good)
    assert response.status_code == 303
    values = await load_settings(db)
    assert values["site_title"] == "Example Register"
    assert values["member_code_grace_days"] == 14
    assert values["ENFORCE_MEMBER_CODES"] is False
    assert values["additional_info_fields"][0]["key"] == "household"
    entries = (
        (await db.execute(select(AuditEntry).where(AuditEntry.action == "setting.change")))
        .scalars()
        .all()
    )
    await db.commit()
    changed = {key for e in entries for key in e.after}
    assert changed == {
        "site_title",
        "member_code_grace_days",
        "ENFORCE_MEMBER_CODES",
        "additional_info_fields",
    }
    assert all(e.actor_id == staff.id for e in entries)
    page = await client.get("/")
    assert "Example Register" in page.text


async def test_settings_need_the_permission(client, db):
    staff = await make_staff(db, ["manage_members"])
    await db.commit()
    await login(client, staff.email)
    assert (await client.get("/admin/settings")).status_code == 403


async def test_a_post_naming_some_settings_changes_only_those(client, db):
    """A script (or a test) that posts just the switch it means — member-code enforcement
    off, registration closed — changes that switch and nothing else; a bad value among
    them is refused at its field, the page showing the saved values for the rest."""
    token = await _settings_admin(client, db)
    response = await client.post(
        "/admin/settings", data={"csrf_token": token, "ENFORCE_MEMBER_CODES": "off"}
    )
    assert response.status_code == 303
    values = await load_settings(db)
    await db.commit()
    assert values["ENFORCE_MEMBER_CODES"] is False
    assert values["registration_open"] is True  # not named: unchanged
    assert values["site_title"] == "Tessera" and values["member_code_grace_days"] == 30

    response = await client.post(
        "/admin/settings",
        data={"csrf_token": token, "registration_open": "", "member_code_grace_days": "7"},
    )
    assert response.status_code == 303
    values = await load_settings(db)
    await db.commit()
    assert values["registration_open"] is False and values["member_code_grace_days"] == 7
    assert values["ENFORCE_MEMBER_CODES"] is False

    response = await client.post(
        "/admin/settings",
        data={"csrf_token": token, "ENFORCE_MEMBER_CODES": "on", "card_color": "purple"},
    )
    assert response.status_code == 400
    assert "enter a colour like #1a2b3c" in response.text
    assert 'value="Tessera"' in response.text  # the saved site title, not an empty field
    values = await load_settings(db)
    await db.commit()
    assert values["ENFORCE_MEMBER_CODES"] is False  # nothing saved


async def _two_admins_on_the_settings_page(app, db):
    import httpx

    first = await make_staff(db, ["manage_settings"])
    second = await make_staff(db, ["manage_settings"])
    await db.commit()
    clients = []
    for admin in (first, second):
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50002)),
            base_url="http://testserver",
        )
        await login(c, admin.email)
        page = await c.get("/admin/settings")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        clients.append((c, {**_form_values(page.text), "csrf_token": token.group(1)}))
    return clients


async def test_a_stale_settings_page_does_not_undo_another_admins_change(app, db):
    (a, form_a), (b, form_b) = await _two_admins_on_the_settings_page(app, db)
    saved = await a.post("/admin/settings", data={**form_a, "site_title": "Shire Register"})
    assert saved.status_code == 303
    # The second admin's page still shows the old title; they change another setting.
    stale = await b.post("/admin/settings", data={**form_b, "contact_email": "office@example.org"})
    assert stale.status_code == 409
    assert "Another admin saved the settings" in stale.text
    assert 'value="Shire Register"' in stale.text  # the page now shows what is saved
    current = await load_settings(db)
    assert current["site_title"] == "Shire Register"
    assert current["contact_email"] != "office@example.org"
    for c, _ in ((a, form_a), (b, form_b)):
        await c.aclose()


async def test_two_admins_saving_at_the_same_moment(app, db):
    import asyncio

    (a, form_a), (b, form_b) = await _two_admins_on_the_settings_page(app, db)
    answers = await asyncio.gather(
        a.post("/admin/settings", data={**form_a, "site_title": "Title A"}),
        b.post("/admin/settings", data={**form_b, "site_title": "Title B"}),
    )
    assert sorted(r.status_code for r in answers) == [303, 409]
    winner = "Title A" if answers[0].status_code == 303 else "Title B"
    await db.commit()
    assert (await load_settings(db))["site_title"] == winner
    changes = (
        await db.execute(select(AuditEntry).where(AuditEntry.action == "setting.change"))
    ).all()
    assert len(changes) == 1
    for c, _ in ((a, form_a), (b, form_b)):
        await c.aclose()


async def test_additional_info_fields_refuse_json_that_is_not_plain(client, db):
    """The field definitions are JSON typed into a textarea: deeply nested brackets,
    NaN, or a NUL spelled as ``\\u0000`` in a label or option get the field's error and
    change nothing (the brackets were a 500; the NUL was stored, then offered as a choice
    on every member's form)."""
    token = await _settings_admin(client, db)
    for value, message in (
        ("[" * 3000 + "]" * 3000, "nested too deeply"),
        ('[{"key": "size", "label": NaN}]', "NaN is not JSON"),
        ('[{"key": "size", "label": "Si\\u0000ze"}]', "holds a NUL"),
        ('[{"key": "size", "type": "select", "options": ["S", "M\\u0000L"]}]', "holds a NUL"),
    ):
        response = await client.post(
            "/admin/settings", data={"csrf_token": token, "additional_info_fields": value}
        )
        assert response.status_code == 400, value[:40]
        assert "Additional info fields: " in response.text and message in response.text
        assert (await load_settings(db))["additional_info_fields"] == []
        await db.commit()
    assert (await db.execute(select(AuditEntry))).first() is None


async def test_enabled_plugins_names_only_installed_plugins(client, db):
    """A typo in the plugin list is the field's error: it was saved, and switched the
    Activities plugin off ("Saved 1 changed setting(s)")."""
    token = await _settings_admin(client, db)
    response = await client.post(
        "/admin/settings", data={"csrf_token": token, "enabled_plugins": "activites"}
    )
    assert response.status_code == 400
    assert "no plugin is called &#39;activites&#39; (installed: activities" in response.text
    assert (await load_settings(db))["enabled_plugins"] == ["activities"]
    await db.commit()
    response = await client.post(
        "/admin/settings", data={"csrf_token": token, "enabled_plugins": ""}
    )
    assert response.status_code == 303  # every plugin off is a choice
    assert (await load_settings(db))["enabled_plugins"] == []


async def test_a_head_request_with_a_form_body_changes_no_setting(client, db):
    """HEAD is a safe method, so the CSRF check lets it by: it must show the page as GET
    does, never run the form (it closed registration with no token before)."""
    await _settings_admin(client, db)
    response = await client.request(
        "HEAD", "/admin/settings", data={"registration_open": "off", "site_title": "Forged"}
    )
    assert response.status_code == 200
    values = await load_settings(db)
    await db.commit()
    assert values["registration_open"] is True and values["site_title"] == "Tessera"
