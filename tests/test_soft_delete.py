from __future__ import annotations

from sqlalchemy import select

from server.audit.models import AuditEntry
from tests.factories import csrf_from, login, make_member, make_staff
from tests.reload import reload


async def test_superuser_soft_deletes_and_the_email_is_free_again(client, db):
    admin = await make_member(db, is_superuser=True, is_staff=True)
    member = await make_member(db, email="Gone@Example.org", sca_name="Soon Gone")
    await db.commit()
    await login(client, admin.email)
    token = await csrf_from(client, f"/members/{member.id}/delete")
    unconfirmed = await client.post(
        f"/members/{member.id}/delete", data={"csrf_token": token, "reason": "asked"}
    )
    assert unconfirmed.status_code == 400 and "Tick the box" in unconfirmed.text
    response = await client.post(
        f"/members/{member.id}/delete",
        data={"csrf_token": token, "reason": "Asked to be removed", "confirm": "on"},
    )
    assert response.status_code == 303
    await reload(db, member)
    assert member.deleted_at is not None and member.email_key is None
    assert member.email == "Gone@Example.org"  # kept for history

    listing = await client.get("/members", params={"q": "Soon Gone"})
    assert "0 members found" in listing.text
    detail = await client.get(f"/members/{member.id}")
    assert detail.status_code == 200 and "was deleted" in detail.text
    trail = await client.get(f"/members/{member.id}/audit")
    assert "member.delete" in trail.text and "Asked to be removed" in trail.text
    # The deleted member cannot log in; a new member may use the address.
    assert (await login(client, "gone@example.org")).status_code == 400
    newcomer = await make_member(db, email="gone@example.org")
    await db.commit()
    assert newcomer.id != member.id
    entry = (
        await db.execute(select(AuditEntry).where(AuditEntry.action == "member.delete"))
    ).scalar_one()
    assert entry.actor_id == admin.id and entry.before["deleted_at"] is None


async def test_only_superusers_delete(client, db):
    staff = await make_staff(db, ["manage_members"])
    member = await make_member(db)
    await db.commit()
    await login(client, staff.email)
    token = await csrf_from(client, "/me")
    response = await client.post(
        f"/members/{member.id}/delete", data={"csrf_token": token, "reason": "x", "confirm": "on"}
    )
    assert response.status_code == 403
    await reload(db, member)
    assert member.deleted_at is None
