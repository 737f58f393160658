from __future__ import annotations

from server.mail.outbox import queue_email
from tests.factories import login, make_member, make_staff


async def test_superusers_read_mail_with_clickable_links(client, db):
    member = await make_member(db, email="reader@example.org")
    message = queue_email(
        db,
        to=member.email,
        template="password_reset",
        context={
            "member": member,
            "link": "http://testserver/password-reset/abc<x>",
            "site_title": "Tessera",
        },
        member_id=member.id,
    )
    admin = await make_member(db, is_superuser=True, is_staff=True)
    staff = await make_staff(db, ["manage_settings", "manage_members"])
    await db.commit()

    await login(client, staff.email)
    assert (await client.get("/admin/outbox")).status_code == 403
    await login(client, admin.email)
    listing = await client.get("/admin/outbox?status=queued")
    assert "reader@example.org" in listing.text and "reset your password" in listing.text
    page = await client.get(f"/admin/outbox/{message.id}")
    assert page.status_code == 200
    assert '<a href="http://testserver/password-reset/abc&lt;x&gt;"' in page.text
    assert "<x>" not in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert (await client.get("/admin/outbox/424242")).status_code == 404
