"""The live check page for every result, anonymous and as a marshal, and its log."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from server.checks import routes as check_routes
from server.checks import runtime
from server.checks.models import CheckEntry
from server.checks.revocations import revoke_codes
from server.groups.models import GroupMembership
from server.photos.images import process
from server.photos.store import save_photo
from server.settings.store import set_setting
from tests.check_fixtures import check_plugin, code_for  # noqa: F401
from tests.factories import PASSWORD, csrf_from, login, make_branch, make_member, make_staff
from tests.test_photos import jpeg_bytes

TODAY = dt.date.today()
NEXT_YEAR = TODAY + dt.timedelta(days=365)


@pytest.fixture(autouse=True)
def _reset_check_limits():
    check_routes.failure_limiter.reset()


async def _member_for(db, result: str):
    """A member (and the code to show) whose live check gives ``result``."""
    branch = await make_branch(db, name="Barony of the Lake")
    verified = {
        "membership_number": "M1",
        "membership_expires_on": NEXT_YEAR,
        "verified_at": dt.datetime.now(dt.UTC),
        "branch_id": branch.id,
    }
    now = dt.datetime.now(dt.UTC)
    code_time = now
    if result == "ok":
        member = await make_member(db, sca_name="Aelfric of the Lake", **verified)
    elif result == "membership_expired":
        verified["membership_expires_on"] = TODAY - dt.timedelta(days=1)
        member = await make_member(db, sca_name="Aelfric of the Lake", **verified)
    elif result == "unverified":
        member = await make_member(db, sca_name="Aelfric of the Lake", branch_id=branch.id)
    elif result == "minor_needs_parent":
        member = await make_member(
            db, sca_name="Aelfric of the Lake", birth_year=TODAY.year - 10, **verified
        )
    elif result == "deactivated":
        member = await make_member(
            db, sca_name="Aelfric of the Lake", deactivated_at=now, **verified
        )
    elif result == "code_expired":
        member = await make_member(db, sca_name="Aelfric of the Lake", **verified)
        code_time = now - dt.timedelta(hours=80)
    elif result == "revoked":
        member = await make_member(db, sca_name="Aelfric of the Lake", **verified)
        code_time = now - dt.timedelta(hours=2)
        await revoke_codes(db, member, None, "Lost card")
    elif result == "unknown":
        member = await make_member(db, sca_name="Aelfric of the Lake", deleted_at=now, **verified)
    await db.commit()
    return member, code_time


ALL_RESULTS = [
    "ok",
    "membership_expired",
    "unverified",
    "minor_needs_parent",
    "deactivated",
    "code_expired",
    "revoked",
    "unknown",
]
WORDS = {
    "ok": "OK",
    "membership_expired": "EXPIRED",
    "unverified": "UNVERIFIED",
    "minor_needs_parent": "MINOR: NO PARENT",
    "deactivated": "DEACTIVATED",
    "code_expired": "CODE EXPIRED",
    "revoked": "REVOKED",
    "unknown": "UNKNOWN",
}


def _word(html: str) -> str:
    start = html.index('class="word"')
    return html[html.index(">", start) + 1 : html.index("</h1>", start)]


@pytest.mark.usefixtures("check_plugin")
@pytest.mark.parametrize("result", ALL_RESULTS)
async def test_every_result_anonymous_then_as_marshal(app, client, db, result):
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    await set_setting(db, "enabled_plugins", ["checktest"], None)
    member, code_time = await _member_for(db, result)
    await save_photo(db, member.id, process(jpeg_bytes()), None)
    await db.commit()
    url = f"/check/{code_for(app, member, code_time)}"

    # Anonymous: the name, branch and result in words; nothing else.
    response = await client.get(url)
    assert response.status_code == 200
    html = response.text
    assert _word(html) == WORDS[result]
    assert f'data-result="{result}"' in html
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers
    if result != "unknown":
        assert "Aelfric of the Lake" in html
        assert "Barony of the Lake" in html
    assert "For the marshal" not in html and "Code issued" not in html
    assert "Rapier" not in html and "<img" not in html

    # A logged-in marshal: also the photo, the plugin sections and the issue time.
    await login(client, marshal.email)
    html = (await client.get(url)).text
    assert _word(html) == WORDS[result]
    assert "Checked by Marshal Maud" in html
    if result == "unknown":
        assert "Rapier" not in html and "<img" not in html
    else:
        assert "For the marshal" in html
        assert "Rapier" in html and 'expires <span class="date">2027-05-01</span>' in html
        assert 'src="data:image/jpeg;base64,' in html
        assert "Code issued" in html

    await runtime.flush_log(app)
    entries = (await db.execute(select(CheckEntry).order_by(CheckEntry.id))).scalars().all()
    assert [(e.result, e.checker_id, e.source) for e in entries] == [
        (result, None, "online"),
        (result, marshal.id, "online"),
    ]
    expected_member = None if result == "unknown" else member.id
    assert [e.member_id for e in entries] == [expected_member, expected_member]


@pytest.mark.usefixtures("check_plugin")
async def test_logged_in_member_without_check_cards_sees_no_extras(app, client, db):
    viewer = await make_member(db)
    await set_setting(db, "enabled_plugins", ["checktest"], None)
    member, code_time = await _member_for(db, "ok")
    await login(client, viewer.email)
    html = (await client.get(f"/check/{code_for(app, member, code_time)}")).text
    assert _word(html) == "OK"
    assert "Rapier" not in html and "For the marshal" not in html
    assert "do not hold the marshal permission" in html


@pytest.mark.usefixtures("check_plugin")
async def test_expired_group_membership_loses_marshal_view(app, client, db):
    marshal = await make_staff(db, ["check_cards"])
    membership = (
        await db.execute(select(GroupMembership).where(GroupMembership.member_id == marshal.id))
    ).scalar_one()
    membership.until = TODAY - dt.timedelta(days=1)
    await set_setting(db, "enabled_plugins", ["checktest"], None)
    member, code_time = await _member_for(db, "ok")
    await login(client, marshal.email)
    html = (await client.get(f"/check/{code_for(app, member, code_time)}")).text
    assert "Rapier" not in html


async def test_json_answer_for_the_scanner(app, client, db):
    member, code_time = await _member_for(db, "membership_expired")
    response = await client.get(
        f"/check/{code_for(app, member, code_time)}", headers={"Accept": "application/json"}
    )
    data = response.json()
    assert data["result"] == "membership_expired"
    assert data["word"] == "EXPIRED"
    assert data["name"] == "Aelfric of the Lake"
    assert "photo" not in data and "sections" not in data


async def test_failed_codes_are_rate_limited_per_client(app, client, db):
    member, _ = await _member_for(db, "ok")
    for n in range(60):
        assert (await client.get(f"/check/{'garbage' * 8}{n}")).status_code == 200
    limited = await client.get(f"/check/{'garbage' * 8}-again")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    # The scanner, asking for JSON, gets JSON it can read, not an HTML page.
    scanner = await client.get(
        f"/check/{'garbage' * 8}-json", headers={"Accept": "application/json"}
    )
    assert scanner.status_code == 429 and scanner.json()["error"] == "rate_limited"
    await runtime.flush_log(app)
    results = (await db.execute(select(CheckEntry.result))).scalars().all()
    assert len(results) == 60 and set(results) == {"unknown"}


async def test_staff_revoke_a_members_codes(app, client, db):
    office = await make_staff(db, ["manage_members"])
    member, code_time = await _member_for(db, "ok")
    old_code = code_for(app, member, code_time)
    await login(client, office.email)
    page = await client.get(f"/checks/member/{member.id}")
    assert "Revoke all codes issued until now" in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = await client.post(
        f"/members/{member.id}/revoke-codes", data={"reason": "Lost card", "csrf_token": token}
    )
    assert response.status_code == 303
    assert _word((await client.get(f"/check/{old_code}")).text) == "REVOKED"
    # The card's next refresh makes a code after the revocation: it works again.
    from server.checks import codes
    from server.checks.revocations import latest_revocation

    public_id = member.public_id
    revoked_before = await latest_revocation(db, member.id)
    await db.rollback()  # end the read (SQLite takes the write lock at BEGIN)
    fresh = codes.mobile_code(
        runtime.keyring(app), public_id, dt.datetime.now(dt.UTC), revoked_before
    )
    assert _word((await client.get(f"/check/{fresh}")).text) == "OK"


async def test_revoking_needs_manage_members(app, client, db):
    marshal = await make_staff(db, ["check_cards"])
    member, _ = await _member_for(db, "ok")
    await login(client, marshal.email)
    token = (await client.get("/check/scan/session.json")).json()["csrf"]
    response = await client.post(
        f"/members/{member.id}/revoke-codes", data={"reason": "x", "csrf_token": token}
    )
    assert response.status_code == 403


async def test_keys_and_revocation_list(app, client, db):
    keys = (await client.get("/check/keys.json")).json()
    assert keys["current"] == 1 and len(keys["keys"]) == 1
    assert "private" not in str(keys)
    assert (await client.get("/check/revoked.json")).status_code == 401
    marshal = await make_staff(db, ["check_cards"])
    revoked, _ = await _member_for(db, "revoked")
    deactivated, _ = await _member_for(db, "deactivated")
    ok, _ = await _member_for(db, "ok")
    await login(client, marshal.email)
    entries = {e["p"]: e for e in (await client.get("/check/revoked.json")).json()["entries"]}
    assert entries[revoked.public_id]["result"] == "revoked"
    assert entries[deactivated.public_id]["result"] == "deactivated"
    assert ok.public_id not in entries


async def test_report_shows_checks_per_day_and_per_member(app, client, db):
    reporter = await make_staff(db, ["view_reports"])
    member, code_time = await _member_for(db, "ok")
    code = code_for(app, member, code_time)
    for _ in range(3):
        await client.get(f"/check/{code}")
    await client.get(f"/check/{'not-a-code' * 5}")
    await login(client, reporter.email)
    html = (await client.get("/checks?days=7")).text
    today = dt.datetime.now(dt.UTC).date().isoformat()
    row = html[html.index(f"<td>{today}</td>") :].split("</tr>")[0]
    assert "<td>4</td>" in row  # all checks today: 3 OK + 1 unknown
    assert f'<a href="/checks/member/{member.id}">Aelfric of the Lake</a></td><td>3</td>' in html
    member_page = (await client.get(f"/checks/member/{member.id}")).text
    assert member_page.count("anonymous") == 3
    plain = await make_member(db)
    await db.commit()
    await client.post("/logout", data={"csrf_token": ""})
    client.cookies.clear()
    await login(client, plain.email)
    assert (await client.get("/checks")).status_code == 403


async def test_member_checks_page_covers_a_chosen_period(app, client, db):
    reporter = await make_staff(db, ["view_reports"])
    member, _ = await _member_for(db, "ok")
    now = dt.datetime.now(dt.UTC)
    for days_ago, reason in ((2, "Checked at the gate"), (120, "Checked at last season's war")):
        moment = now - dt.timedelta(days=days_ago)
        db.add(
            CheckEntry(
                checked_at=moment,
                recorded_at=moment,
                member_id=member.id,
                result="ok",
                reason=reason,
                source="online",
            )
        )
    await db.commit()
    await login(client, reporter.email)
    page = (await client.get(f"/checks/member/{member.id}")).text
    assert "Checked at the gate" in page and "last season" not in page
    assert '<option value="90" selected>last 90 days</option>' in page
    page = (await client.get(f"/checks/member/{member.id}?days=365")).text
    assert "Checked at the gate" in page and "Checked at last season&#39;s war" in page
    page = (await client.get(f"/checks/member/{member.id}?days=-3")).text  # not a choice
    assert '<option value="90" selected>' in page and "last season" not in page


async def _scanner_session(client, db):
    marshal = await make_staff(db, ["check_cards"])
    await db.commit()
    await login(client, marshal.email)
    return marshal, (await client.get("/check/scan/session.json")).json()["csrf"]


async def test_offline_upload_is_stored_once_and_trusts_only_the_code(app, client, db):
    member, code_time = await _member_for(db, "ok")
    marshal, token = await _scanner_session(client, db)
    now = int(dt.datetime.now(dt.UTC).timestamp())
    entries = [
        {
            "ref": "a" * 24,
            "code": code_for(app, member, code_time),
            "checked_at": now - 60,
            "result": "ok",
            "reason": "offline ok",
        },
        {"ref": "b" * 24, "code": "forged", "checked_at": now - 30, "result": "unknown"},
        {"ref": "c" * 24, "code": "x", "checked_at": now, "result": "excellent"},
        {"ref": "d" * 24, "code": "x", "checked_at": now + 86400, "result": "ok"},
    ]
    headers = {"X-CSRF-Token": token}
    first = await client.post("/check/scan/log", json={"entries": entries}, headers=headers)
    assert first.status_code == 200
    body = first.json()
    assert body["accepted"] == 2
    assert {r["ref"]: r["reason"] for r in body["refused"]} == {
        "c" * 24: "unknown result",
        "d" * 24: "checked_at is in the future or more than 30 days old",
    }
    again = await client.post("/check/scan/log", json={"entries": entries[:2]}, headers=headers)
    assert again.json() == {"accepted": 0, "duplicates": 2, "refused": []}
    rows = (await db.execute(select(CheckEntry).order_by(CheckEntry.checked_at))).scalars().all()
    assert [(r.result, r.source, r.checker_id) for r in rows] == [
        ("ok", "offline", marshal.id),
        ("unknown", "offline", marshal.id),
    ]
    assert rows[0].member_id == member.id and rows[0].code_issued_at is not None
    assert rows[1].member_id is None


async def test_offline_upload_of_entries_a_scanner_never_writes_refuses_each(app, client, db):
    """A result or reason that is a list or an object (a buggy or forged scanner) is that
    entry's refusal in the JSON answer, the rest of the upload stored: it was an HTML 500
    that dropped the whole upload."""
    _, token = await _scanner_session(client, db)
    now = int(dt.datetime.now(dt.UTC).timestamp())
    entries = [
        {"ref": "e" * 24, "code": "x", "checked_at": now, "result": ["ok"]},
        {"ref": "f" * 24, "code": "x", "checked_at": now, "result": {"ok": True}},
        {"ref": "g" * 24, "code": "x", "checked_at": now, "result": "ok", "reason": ["a"]},
        {"ref": "h" * 24, "code": "x", "checked_at": now, "result": "unknown"},
    ]
    response = await client.post(
        "/check/scan/log", json={"entries": entries}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 200
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "refused": [
            {"ref": "e" * 24, "reason": "unknown result"},
            {"ref": "f" * 24, "reason": "unknown result"},
            {"ref": "g" * 24, "reason": "reason must be text"},
        ],
    }
    rows = (await db.execute(select(CheckEntry.client_ref))).scalars().all()
    assert rows == ["h" * 24]


async def test_offline_upload_needs_csrf_and_the_marshal_permission(app, client, db):
    _, token = await _scanner_session(client, db)
    no_header = await client.post("/check/scan/log", json={"entries": []})
    assert no_header.status_code == 403
    bad = await client.post("/check/scan/log", content=b"not json", headers={"X-CSRF-Token": token})
    assert bad.status_code == 400 and "not JSON" in bad.json()["error"]
    client.cookies.clear()
    plain = await make_member(db)
    await db.commit()
    await login(client, plain.email)
    token = await csrf_from(client, "/login")
    denied = await client.post(
        "/check/scan/log", json={"entries": []}, headers={"X-CSRF-Token": token}
    )
    assert denied.status_code == 403


async def test_a_link_that_holds_no_code_answers_unknown_and_is_logged(app, client, db):
    for path in ("/check/hello-world", "/check/", "/check/scan/nothing-here", "/check/a/b%20c"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert _word(response.text) == "UNKNOWN"
        assert "not a Tessera check code" in response.text
        assert response.headers["cache-control"] == "no-store"
    as_json = await client.get("/check/hello-world", headers={"Accept": "application/json"})
    assert as_json.json()["result"] == "unknown"
    await runtime.flush_log(app)
    entries = (await db.execute(select(CheckEntry))).scalars().all()
    assert [(e.result, e.member_id, e.source) for e in entries] == [("unknown", None, "online")] * 5
    await db.rollback()  # end the read (SQLite takes the write lock at BEGIN)
    # Pages under /check/ are still themselves.
    assert (await client.get("/check/scan/about")).status_code == 200
    assert (await client.get("/check/keys.json")).json()["keys"]


async def test_anonymous_log_in_link_returns_to_the_same_check(app, client, db):
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    member, code_time = await _member_for(db, "ok")
    url = f"/check/{code_for(app, member, code_time)}"
    html = (await client.get(url)).text
    assert f'href="/login?next={url}"' in html
    assert '<link rel="icon" href="/static/favicon.svg"' in html
    assert 'href="/check/scan/">Scan the next card</a>' in html
    token = await csrf_from(client, f"/login?next={url}")
    response = await client.post(
        f"/login?next={url}",
        data={"email": marshal.email, "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 303 and response.headers["location"] == url
    assert "Checked by Marshal Maud" in (await client.get(url)).text
    # No "Welcome" kept for later: the check page greets with "Checked by", and the
    # scanner opened next ("Scan the next card") says nothing about logging in.
    assert "Welcome" not in (await client.get("/check/scan/")).text


async def test_the_root_icons_a_browser_asks_for_unprompted_are_there(client):
    """A marshal's in-app browser or an older phone asks for /favicon.ico (and iOS for
    /apple-touch-icon.png) whatever the page links: the app's icon, not a 404."""
    from io import BytesIO

    from PIL import Image

    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert Image.open(BytesIO(icon.content)).format == "ICO"
    assert "set-cookie" not in icon.headers
    for path in ("/apple-touch-icon.png", "/apple-touch-icon-precomposed.png"):
        touch = await client.get(path)
        assert touch.status_code == 200 and touch.headers["content-type"] == "image/png", path
        assert Image.open(BytesIO(touch.content)).size == (180, 180)
        assert "set-cookie" not in touch.headers
