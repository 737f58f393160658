"""The marshal's view in a live check is prebuilt with the card and as fresh as the card."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
from sqlalchemy import text

from server.cards.invalidation import invalidate
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


async def test_a_new_card_epoch_makes_the_stored_view_stale(app, client, db):
    """The stored view is shown while fresh; at midnight (or a settings change) a new card
    epoch makes every stored view stale at once, and the next check builds it again."""
    marshal = await make_staff(db, ["check_cards"])
    member = await make_verified(db)
    await db.commit()
    await login(client, marshal.email)
    url = f"/check/{code_for(app, member)}"
    built = (await client.get(url, headers=JSON)).json()
    stored = text("SELECT check_view FROM card_payloads WHERE member_id = :id")
    for _ in range(100):  # the rebuilder stores what it built a moment later
        if await db.scalar(stored, {"id": member.id}):
            break
        await db.commit()
        await asyncio.sleep(0.05)
        await client.get(url, headers=JSON)  # (a member without a card gets a row first)
    # Mark the stored view, as a view built before the date moved would differ.
    await db.execute(
        text("UPDATE card_payloads SET check_view = :view WHERE member_id = :id"),
        {"view": '{"sections": [], "photo": null, "stored": true}', "id": member.id},
    )
    await db.commit()
    assert (await client.get(url, headers=JSON)).json()["stored"] is True
    await invalidate(db, None, reason="midnight")
    await db.commit()
    answer = (await client.get(url, headers=JSON)).json()
    assert "stored" not in answer and answer["sections"] == built["sections"]


async def test_a_deactivated_members_authorizations_are_marked_not_valid(app, client, db):
    """The marshal checking a deactivated member's card sees DEACTIVATED and, above the
    authorizations still on record, that they are not valid while deactivated (as the
    member's own card says), not a plain list of 'Authorized' rows."""
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    member = await make_verified(
        db, sca_name="Fulk of Amberdale", deactivated_at=dt.datetime.now(dt.UTC)
    )
    rapier = await make_activity(db, "Rapier", "Heavy Rapier")
    await make_authorization(db, member, rapier, expires_on=TODAY + dt.timedelta(days=90))
    current = await make_verified(db, sca_name="Brienne")
    await make_authorization(db, current, rapier, expires_on=TODAY + dt.timedelta(days=90))
    await db.commit()
    await login(client, marshal.email)
    page = await client.get(f"/check/{code_for(app, member)}")
    assert 'data-result="deactivated"' in page.text and "Heavy Rapier" in page.text
    assert "Not valid while the member is deactivated." in page.text
    page = await client.get(f"/check/{code_for(app, current)}")
    assert 'data-result="ok"' in page.text and "Heavy Rapier" in page.text
    assert "Not valid while" not in page.text
