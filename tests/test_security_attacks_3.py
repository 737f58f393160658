"""The third attacker's review of issue 12, replayed as attacks.

Each test follows an attacker's steps against the app (logged in as one of the demo's
roles, ``tests/role_fixtures.py``) and asserts that the attack no longer works; each one
succeeded before its fix.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import httpx
from sqlalchemy import func, select, update

from server.app import create_app
from server.auth.models import LoginSession
from server.cards.models import CardLink
from server.checks.models import CheckEntry
from server.settings.store import load_settings, set_setting
from tests.card_fixtures import issued_token, reset_card_limiter
from tests.factories import csrf_from, login, make_member, make_staff, post_form
from tests.role_fixtures import Offices
from tests.test_settings_page import _form_values

_reset_card_limiter = reset_card_limiter


async def _links(db, member_id: int) -> list[tuple[int, bool]]:
    rows = await db.execute(
        select(CardLink.id, CardLink.revoked_at.is_(None))
        .where(CardLink.member_id == member_id)
        .order_by(CardLink.id)
    )
    await db.commit()
    return [(link_id, live) for link_id, live in rows]


async def test_an_officer_cannot_replace_a_superiors_card_through_my_cards(client, db, settings):
    """The deputy may not touch the superuser's or a marshal's card link on their
    card-links page, but the member's own "Email me my card link" form took any
    ``member_id`` from anyone holding ``issue_card_links``: the superior's live link was
    revoked (their phone card stopped) and a new one issued, without a reason asked."""
    offices = await Offices.make(db)
    deputy = await offices.person(db, "officer")
    superiors = [await offices.person(db, "superuser"), await offices.person(db, "marshal")]
    await db.commit()
    for superior in superiors:
        await issued_token(db, settings, superior)
    await login(client, deputy.email)
    for superior in superiors:
        before = await _links(db, superior.id)
        response = await post_form(client, "/me/cards/issue", {"member_id": str(superior.id)})
        page = await client.get(response.headers["location"])
        assert "only email your own card link" in page.text
        assert await _links(db, superior.id) == before  # the phone card still works
    # Their own link, from the same form, still works.
    response = await post_form(client, "/me/cards/issue", {})
    page = await client.get(response.headers["location"])
    assert f"on its way to {deputy.email}" in page.text
    count = await db.scalar(
        select(func.count()).select_from(CardLink).where(CardLink.member_id == deputy.id)
    )
    assert count == 1


async def _session_row(db, member_id: int) -> LoginSession:
    row = (
        await db.execute(
            select(LoginSession)
            .where(LoginSession.member_id == member_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    await db.commit()
    return row


async def test_a_shortened_idle_timeout_ends_sessions_already_idle_that_long(client, db):
    """After a lost laptop the admin lowers "Log out after idle hours" from 72 to 1. A
    session left three hours ago still opened /me — and its next use extended it."""
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    row = await _session_row(db, member.id)
    three_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    await db.execute(
        update(LoginSession).where(LoginSession.id == row.id).values(last_seen_at=three_hours_ago)
    )
    await set_setting(db, "session_idle_hours", 1, None)
    await db.commit()
    response = await client.get("/me")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    row = await _session_row(db, member.id)
    assert row.ended_at is not None and row.end_reason == "idle"


async def test_a_shortened_lifetime_ends_older_sessions_at_once(client, db):
    """Lowering "Log out after days" to 1 let a three-day-old session open one more page."""
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    row = await _session_row(db, member.id)
    now = dt.datetime.now(dt.UTC)
    await db.execute(
        update(LoginSession)
        .where(LoginSession.id == row.id)
        .values(created_at=now - dt.timedelta(days=3), last_seen_at=now - dt.timedelta(minutes=10))
    )
    await set_setting(db, "session_lifetime_days", 1, None)
    await db.commit()
    assert (await client.get("/me")).status_code == 303
    row = await _session_row(db, member.id)
    assert row.end_reason == "expired"


async def test_a_marshals_scanner_upload_cannot_break_the_server_or_hide_text(client, db):
    """A marshal's session posts crafted "offline" check logs: NaN, Infinity or a huge
    number as the check time, or JSON nested thousands deep, answered 500; a reason
    with direction controls and a NUL was stored as sent, to show in the check log
    (and PostgreSQL refuses a NUL: another 500)."""
    marshal = await make_staff(db, ["check_cards"])
    await db.commit()
    await login(client, marshal.email)
    headers = {
        "X-CSRF-Token": (await client.get("/check/scan/session.json")).json()["csrf"],
        "Content-Type": "application/json",
    }
    now = int(dt.datetime.now(dt.UTC).timestamp())
    for n, checked_at in enumerate(("NaN", "Infinity", "-Infinity", "1e300", str(2**70))):
        body = f'{{"entries": [{{"ref": "crafted-{n:03d}", "result": "unknown", "code": "x",'
        body += f' "checked_at": {checked_at}}}]}}'
        response = await client.post("/check/scan/log", content=body, headers=headers)
        assert response.status_code in (200, 400), checked_at
        assert not response.json().get("accepted"), checked_at
    deep = await client.post("/check/scan/log", content="[" * 5000 + "]" * 5000, headers=headers)
    assert deep.status_code == 400 and "not JSON" in deep.json()["error"]
    entry = {"ref": "reason-000", "result": "unknown", "code": "x", "checked_at": now}
    odd = await client.post(
        "/check/scan/log",
        json={"entries": [{**entry, "reason": {"not": "text"}}]},
        headers=headers,
    )
    assert odd.json()["refused"] == [{"ref": "reason-000", "reason": "reason must be text"}]
    hidden = {**entry, "reason": "gate \u202eetag\u2066 two\x00"}
    stored = await client.post("/check/scan/log", json={"entries": [hidden]}, headers=headers)
    assert stored.json()["accepted"] == 1
    reasons = list((await db.execute(select(CheckEntry.reason))).scalars())
    assert reasons == ["gate etag two"]


async def test_json_escapes_do_not_smuggle_direction_controls_into_profile_fields(client, db):
    """Invisible characters are stripped from every text setting, but the additional-info
    fields are JSON: written as escapes (``\\u202e``) they passed the stripping and came
    out of the JSON as real direction controls in the labels and choices every member
    reads on their profile and the registration form."""
    staff = await make_staff(db, ["manage_settings"])
    await db.commit()
    await login(client, staff.email)
    data = _form_values((await client.get("/admin/settings")).text)
    fields = (
        '[{"key": "household", "type": "select", "member_editable": true,'
        ' "label": "House\\u202ehold\\u2066", "options": ["North\\u200b", "\\u202eSouth"]}]'
    )
    data.update(csrf_token=await csrf_from(client, "/admin/settings"))
    data["additional_info_fields"] = fields
    assert (await client.post("/admin/settings", data=data)).status_code == 303
    [field] = (await load_settings(db))["additional_info_fields"]
    await db.commit()
    assert (field["label"], field["options"]) == ("Household", ["North", "South"])
    profile = (await client.get("/me")).text
    assert "Household" in profile and "\u202e" not in profile and "\u2066" not in profile


async def test_an_https_base_url_in_capitals_still_gets_hsts_and_secure_cookies(settings):
    """``BASE_URL=HTTPS://members.example.org`` (a scheme has no case: every link in the
    mail works) ran the server as if on plain http: no Strict-Transport-Security, and
    session cookies without ``Secure``, sent again over any http:// request."""
    app = create_app(dataclasses.replace(settings, base_url="HTTPS://members.example.org"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        response = await c.get("/login")
    await app.state.engine.dispose()
    assert "max-age=" in response.headers.get("strict-transport-security", "")
    assert "secure" in response.headers["set-cookie"].lower()
