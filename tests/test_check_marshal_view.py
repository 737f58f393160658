"""The marshal's view in a live check is prebuilt with the card and as fresh as the card."""

from __future__ import annotations

import datetime as dt

import httpx

from server.plugins.activities.decisions import revoke
from tests.activities_fixtures import make_activity, make_authorization
from tests.check_fixtures import code_for, make_verified
from tests.factories import csrf_from, login, make_staff

TODAY = dt.date.today()
JSON = {"Accept": "application/json"}


async def test_a_revoked_authorization_leaves_the_marshals_next_check(app, client, db):
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    admin = await make_staff(db, ["manage_activities"])
    member = await make_verified(db, sca_name="Brienne")
    rapier = await make_activity(db, "Rapier", "Heavy Rapier")
    held = await make_authorization(db, member, rapier, expires_on=TODAY + dt.timedelta(days=90))
    await db.commit()
    await login(client, marshal.email)
    url = f"/check/{code_for(app, member)}"

    def authorizations(answer: dict) -> list[str]:
        sections = {s["key"]: s for s in answer["sections"]}
        return [row["label"] for row in sections["authorizations"]["rows"]]

    first = (await client.get(url, headers=JSON)).json()
    assert first["checker"] == "Marshal Maud" and authorizations(first) == ["Heavy Rapier"]
    assert first["status"] == "Verified" and first["membership_expires_on"]
    assert (await client.get(url, headers=JSON)).json() == first  # now read as stored

    await revoke(db, authorization_id=held.id, actor=admin, reason="Unsafe", today=TODAY)
    await db.commit()
    assert authorizations((await client.get(url, headers=JSON)).json()) == []


async def test_a_marshal_logged_out_elsewhere_sees_no_details(app, client, db):
    marshal = await make_staff(db, ["check_cards"])
    member = await make_verified(db)
    await db.commit()
    await login(client, marshal.email)
    url = f"/check/{code_for(app, member)}"
    assert (await client.get(url, headers=JSON)).json()["marshal"] is True
    # "Log out everywhere" from another browser ends this session on the server too.
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await login(other, marshal.email)
        token = await csrf_from(other, "/me")
        await other.post("/me/logout-everywhere", data={"csrf_token": token})
    answer = (await client.get(url, headers=JSON)).json()
    assert answer["result"] == "ok"
    assert "marshal" not in answer and "sections" not in answer and "checker" not in answer
