"""Endpoints that scripts call answer refusals in JSON, never with the login page.

The scanner polls ``/check/revoked.json`` and uploads to ``/check/scan/log``: a redirect
to the login form would reach its script as HTML. Pages people open keep redirecting.
"""

from __future__ import annotations

from tests.factories import csrf_from, login, make_member, make_staff


async def test_anonymous_scanner_calls_get_401_json(app, client, db):
    for path in ("/check/revoked.json", "/check/scan/session.json"):
        response = await client.get(path)
        assert response.status_code == 401, path
        assert "location" not in response.headers
        body = response.json()
        assert body["error"] == "login_required"
        assert body["message"] == "Please log in first."
    token = await csrf_from(client, "/login")
    upload = await client.post(
        "/check/scan/log", json={"entries": []}, headers={"X-CSRF-Token": token}
    )
    assert upload.status_code == 401 and upload.json()["error"] == "login_required"


async def test_pages_still_send_anonymous_visitors_to_log_in(app, client):
    page = await client.get("/check/scan/")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/check/scan/"
    # The same page asked for by a script (Accept: application/json) is refused in JSON.
    scripted = await client.get("/check/scan/", headers={"Accept": "application/json"})
    assert scripted.status_code == 401 and scripted.json()["error"] == "login_required"


async def test_logged_in_without_check_cards_gets_403_json(app, client, db):
    plain = await make_member(db)
    staff = await make_staff(db, ["manage_members"])
    await db.commit()
    await login(client, plain.email)
    refused = await client.get("/check/revoked.json")
    assert refused.status_code == 403
    assert refused.json()["error"] == "staff_only"

    client.cookies.clear()
    await login(client, staff.email)
    refused = await client.get("/check/revoked.json")
    assert refused.status_code == 403
    body = refused.json()
    assert body["error"] == "permission_required" and body["permissions"] == ["check_cards"]
    assert "Check member cards as a marshal" in body["message"]  # by its label, not its key
    token = await csrf_from(client, "/login")
    upload = await client.post(
        "/check/scan/log", json={"entries": []}, headers={"X-CSRF-Token": token}
    )
    assert upload.status_code == 403 and upload.json()["error"] == "permission_required"
    # A page refuses with the error page, as before.
    page = await client.get("/check/scan/")
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
