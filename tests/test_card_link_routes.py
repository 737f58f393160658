from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select

from server.cards import link_routes
from server.cards.models import CardLink
from server.mail.models import OutboxMessage
from tests.factories import login, make_branch, make_member, make_staff, post_form


async def _count(db, model, *where):
    await db.commit()  # a fresh transaction sees the app's writes
    value = await db.scalar(select(func.count()).select_from(model).where(*where))
    await db.commit()
    return value


async def test_admin_issues_and_revokes_from_the_member_page(client, db):
    admin = await make_staff(db, ["issue_card_links"])
    member = await make_member(db, sca_name="Card Holder")
    await db.commit()
    await login(client, admin.email)
    page = await client.get(f"/members/{member.id}/card-links")
    assert page.status_code == 200 and "No live card link" in page.text

    response = await post_form(client, f"/members/{member.id}/card-links/issue", {})
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "on its way to" in page.text and "is <strong>live</strong>" in page.text
    assert await _count(db, OutboxMessage, OutboxMessage.member_id == member.id) == 1

    response = await post_form(
        client, f"/members/{member.id}/card-links/revoke", {"reason": "phone stolen"}
    )
    page = await client.get(response.headers["location"])
    assert "is revoked" in page.text and "phone stolen" in page.text
    assert await _count(db, CardLink, CardLink.revoked_at.is_(None)) == 0


async def test_deactivated_member_refused_with_reason_on_the_page(client, db):
    admin = await make_staff(db, ["issue_card_links"])
    member = await make_member(
        db, deactivated_at=dt.datetime.now(dt.UTC), deactivation_reason="moved away"
    )
    await db.commit()
    await login(client, admin.email)
    response = await post_form(client, f"/members/{member.id}/card-links/issue", {})
    page = await client.get(response.headers["location"])
    assert "moved away" in page.text and "cannot get a card link" in page.text
    assert await _count(db, CardLink) == 0


async def test_members_without_the_permission_cannot_issue_for_others(client, db):
    member = await make_member(db)
    other = await make_member(db)
    await db.commit()
    await login(client, member.email)
    response = await post_form(client, f"/members/{other.id}/card-links/issue", {})
    assert response.status_code == 403
    response = await post_form(client, "/me/cards/issue", {"member_id": str(other.id)})
    page = await client.get(response.headers["location"])
    assert "only email your own card link" in page.text
    assert await _count(db, CardLink) == 0


async def test_member_emails_own_link_and_parent_the_minors(client, db):
    parent = await make_member(db, sca_name="Parent Person")
    child = await make_member(
        db, sca_name="Kid Person", parent_id=parent.id, birth_year=dt.date.today().year - 9
    )
    await db.commit()
    await login(client, parent.email)
    page = await client.get("/me/cards")
    assert "Kid Person" in page.text and "Email me my card link" in page.text

    await post_form(client, "/me/cards/issue", {})
    response = await post_form(client, "/me/cards/issue", {"member_id": str(child.id)})
    page = await client.get(response.headers["location"])
    assert f"on its way to {child.email} and {parent.email}" in page.text
    assert await _count(db, CardLink, CardLink.revoked_at.is_(None)) == 2
    recipients = set((await db.execute(select(OutboxMessage.to_addr))).scalars())
    assert recipients == {parent.email, child.email}


async def test_bulk_issue_with_progress(client, db):
    admin = await make_staff(db, ["issue_card_links"])
    branch = await make_branch(db, "Shire of Bulk")
    members = [await make_member(db, branch_id=branch.id) for _ in range(5)]
    await db.commit()
    await login(client, admin.email)
    assert "Shire of Bulk" in (await client.get("/cards/bulk")).text

    response = await post_form(client, "/cards/bulk", {"branch_id": str(branch.id)})
    assert response.status_code == 303
    job_url = response.headers["location"]
    await asyncio.gather(*link_routes._RUNNING)
    progress = (await client.get(job_url + ".json")).json()
    assert progress["state"] == "finished"
    assert (progress["done"], progress["total"]) == (5, 5)
    page = await client.get(job_url)
    assert "<progress" in page.text and "finished" in page.text
    assert await _count(db, CardLink, CardLink.member_id.in_([m.id for m in members])) == 5


async def test_bulk_form_rejects_unknown_branch(client, db):
    admin = await make_staff(db, ["issue_card_links"])
    await db.commit()
    await login(client, admin.email)
    response = await post_form(client, "/cards/bulk", {"branch_id": "999999"})
    page = await client.get(response.headers["location"])
    assert "Branch: choose one of the listed options" in page.text
