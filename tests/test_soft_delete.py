from __future__ import annotations

import re

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


async def test_a_delete_without_the_tick_says_so_at_the_box(client, db):
    """The refusal is tied to the checkbox a screen reader user has to tick, and the page
    opens on the error summary (like every other form)."""
    admin = await make_member(db, is_superuser=True, is_staff=True)
    member = await make_member(db, sca_name="Not Yet Gone")
    await db.commit()
    await login(client, admin.email)
    page = (await client.get(f"/members/{member.id}/delete")).text
    box = re.search(r'<input id="f-confirm"[^>]*>', page)
    assert box and "required" in box.group(0)
    token = await csrf_from(client, f"/members/{member.id}/delete")
    refused = await client.post(
        f"/members/{member.id}/delete", data={"csrf_token": token, "reason": "asked"}
    )
    assert refused.status_code == 400
    assert 'id="error-summary"' in refused.text and 'href="#f-confirm"' in refused.text
    box = re.search(r'<input id="f-confirm"[^>]*>', refused.text)
    assert box and 'aria-invalid="true"' in box.group(0)
    assert 'aria-describedby="e-confirm"' in box.group(0)
    assert re.search(r'id="e-confirm">Tick the box to confirm.<', refused.text)
    assert 'value="asked"' in refused.text  # the reason typed is kept
    await reload(db, member)
    assert member.deleted_at is None
