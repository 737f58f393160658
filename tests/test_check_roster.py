"""The marshals' roster: who is in it, what it says of them, ETag/304, gzip, audit."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.checks import roster as roster_module
from server.checks.roster import roster_cache
from tests.activities_fixtures import make_activity, make_authorization
from tests.factories import login, make_branch, make_member, make_staff

TODAY = dt.date.today()
NEXT_YEAR = TODAY + dt.timedelta(days=365)


def _by_id(data: dict) -> dict[str, dict]:
    """The roster's members as readable dicts, by public id."""
    sections = data["sections"]
    found = {}
    for public_id, name, branch, standing, expires, rows in data["members"]:
        shown = []
        for index in rows:
            s, group, label, value, note, _tone = data["rows"][index]
            title = sections[s][1]
            shown.append((title, group, label, value, note) if label else (title, sections[s][2]))
        found[public_id] = {
            "name": name,
            "branch": data["branches"][branch],
            "standing": standing,
            "expires": expires,
            "rows": shown,
        }
    return found


async def test_roster_names_every_current_member_with_standing_and_authorizations(
    app, client, db, monkeypatch
):
    monkeypatch.setattr(roster_module, "CHUNK", 2)  # several chunks, one roster
    branch = await make_branch(db, name="Barony of the Lake")
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    verified = await make_member(
        db,
        sca_name="Aelfric of the Lake",
        first_name="Secretlegal",
        email="aelfric@example.org",
        branch_id=branch.id,
        membership_number="M1",
        membership_expires_on=NEXT_YEAR,
        verified_at=dt.datetime.now(dt.UTC),
    )
    rapier = await make_activity(db, "Rapier", "Single Rapier")
    await make_authorization(db, verified, rapier, expires_on=TODAY + dt.timedelta(days=40))
    melee = await make_activity(db, "Rapier", "Melee")
    await make_authorization(db, verified, melee, status="revoked")
    expired = await make_member(
        db,
        sca_name="Brigid",
        membership_number="M2",
        membership_expires_on=TODAY - dt.timedelta(days=2),
        verified_at=dt.datetime.now(dt.UTC),
    )
    unverified = await make_member(db, sca_name="Cador")
    minor = await make_member(db, sca_name="Dafydd", birth_year=TODAY.year - 10)
    deactivated = await make_member(
        db, sca_name="Gone Gwen", deactivated_at=dt.datetime.now(dt.UTC)
    )
    deleted = await make_member(db, sca_name="Deleted Dai", deleted_at=dt.datetime.now(dt.UTC))
    await db.commit()
    await login(client, marshal.email)

    response = await client.get("/check/scan/roster.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-encoding"] == "gzip"  # httpx asks for gzip
    data = response.json()
    members = _by_id(data)
    assert int(response.headers["x-roster-members"]) == len(data["members"]) == 5
    assert abs(data["generated_at"] - dt.datetime.now(dt.UTC).timestamp()) < 60
    assert response.headers["x-roster-generated-at"] == str(data["generated_at"])

    aelfric = members[verified.public_id]
    assert aelfric["name"] == "Aelfric of the Lake"
    assert aelfric["branch"] == "Barony of the Lake"
    assert aelfric["standing"] == "ok" and aelfric["expires"] == NEXT_YEAR.isoformat()
    expiry = (TODAY + dt.timedelta(days=40)).isoformat()
    assert ("Authorizations", "Rapier", "Single Rapier", "Authorized", f"expires {expiry}") in (
        aelfric["rows"]
    )
    assert not any("Melee" in str(row) for row in aelfric["rows"])
    assert members[expired.public_id]["standing"] == "ok"  # expiry is judged on the day
    assert members[expired.public_id]["expires"] == (TODAY - dt.timedelta(days=2)).isoformat()
    assert members[unverified.public_id]["standing"] == "unverified"
    assert members[minor.public_id]["standing"] == "minor_needs_parent"
    assert ("Authorizations", "No current authorizations.") in members[minor.public_id]["rows"]
    assert deactivated.public_id not in members and deleted.public_id not in members
    assert marshal.public_id in members
    # Nothing the scanner does not show: no legal names, emails, birth dates.
    text = response.text
    assert "Secretlegal" not in text and "aelfric@example.org" not in text
    assert "birth" not in text and "Gone Gwen" not in text


async def test_roster_answers_304_while_unchanged_and_audits_full_downloads(app, client, db):
    marshal = await make_staff(db, ["check_cards"])
    await make_member(db, sca_name="Aelfric")
    await db.commit()
    await login(client, marshal.email)
    first = await client.get("/check/scan/roster.json")
    etag = first.headers["etag"]
    again = await client.get("/check/scan/roster.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["x-roster-generated-at"] == first.headers["x-roster-generated-at"]

    # Built again after MAX_AGE: the same content keeps its ETag; a change gets a new one.
    roster_cache(app).max_age = 0
    rebuilt = await client.get("/check/scan/roster.json", headers={"If-None-Match": etag})
    assert rebuilt.status_code == 304
    await make_member(db, sca_name="Newcomer Nia")
    await db.commit()
    changed = await client.get("/check/scan/roster.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert "Newcomer Nia" in changed.text

    rows = (
        await db.execute(
            select(AuditEntry.actor_id, AuditEntry.action, AuditEntry.after).order_by(AuditEntry.id)
        )
    ).all()
    downloads = [r for r in rows if r.action == "checks.roster_download"]
    assert [(r.actor_id, r.after["members"]) for r in downloads] == [
        (marshal.id, 2),
        (marshal.id, 3),
    ]


async def test_roster_without_gzip_and_refused_to_others(app, client, db):
    marshal = await make_staff(db, ["check_cards"])
    plain = await make_member(db)
    await db.commit()
    anonymous = await client.get("/check/scan/roster.json")
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "login_required"
    await login(client, plain.email)
    assert (await client.get("/check/scan/roster.json")).status_code == 403
    client.cookies.clear()
    await login(client, marshal.email)
    raw = await client.get("/check/scan/roster.json", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert json.loads(raw.content)["v"] == 1
    zipped = await client.get("/check/scan/roster.json", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert json.loads(zipped.content) == json.loads(raw.content)


@pytest.mark.parametrize("status, expected", [("verified", "ok"), ("active", "unverified")])
def test_standing_follows_the_live_checks_rules(status, expected):
    assert roster_module.standing(status) == expected
