"""Status actions through the admin controls: permission, preconditions, audit, status."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import func, select

from server.audit.models import AuditEntry
from tests.factories import csrf_from, login, make_member, make_staff

TODAY = dt.date.today()
MINOR_YEAR = TODAY.year - 10


async def _admin(db, client, perms=("verify_members", "manage_members")):
    admin = await make_staff(db, list(perms))
    await db.commit()
    await login(client, admin.email)
    return admin


async def _post(client, member, action, **data):
    token = await csrf_from(client, f"/members/{member.id}/status")
    return await client.post(
        f"/members/{member.id}/{action}",
        data={"csrf_token": token, "version": member.version, **data},
    )


async def _reload(db, member):
    """Read fresh values, then end the read transaction (SQLite writers wait on it)."""
    await db.refresh(member)
    await db.commit()
    return member


async def _audits(db, member_id, action):
    rows = (
        (
            await db.execute(
                select(AuditEntry).where(
                    AuditEntry.member_id == member_id, AuditEntry.action == action
                )
            )
        )
        .scalars()
        .all()
    )
    await db.commit()
    return rows


async def test_verify_membership_records_who_and_when(client, db):
    admin = await _admin(db, client)
    member = await make_member(db)
    await db.commit()
    expires = (TODAY + dt.timedelta(days=200)).isoformat()
    response = await _post(
        client,
        member,
        "verify-membership",
        membership_number="123456",
        membership_expires_on=expires,
    )
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "Membership verified" in page.text and "Status: Verified" in page.text
    await _reload(db, member)
    assert member.status == "verified"
    assert member.verified_by_id == admin.id and member.verified_at is not None
    [entry] = await _audits(db, member.id, "member.verify_membership")
    assert entry.actor_id == admin.id
    assert entry.before["status"] == "active" and entry.after["status"] == "verified"
    assert entry.after["membership_number"] == "123456"


async def test_verify_needs_number_and_expiry(client, db):
    await _admin(db, client)
    member = await make_member(db)
    await db.commit()
    response = await _post(client, member, "verify-membership", membership_number="")
    assert response.status_code == 400
    assert "needs the membership number and expiry date" in response.text
    yesterday = (TODAY - dt.timedelta(days=1)).isoformat()
    response = await _post(
        client,
        member,
        "verify-membership",
        membership_number="S-4711",
        membership_expires_on=yesterday,
    )
    # The same page answers, the form open, what was typed kept, the reason at its fields.
    assert response.status_code == 400
    page = response.text
    assert re.search(r'<p class="error" id="e-verify" role="alert">[^<]*only a current', page)
    assert re.search(r"<details open>\s*<summary>Verify membership", page)
    number = re.search(r'<input id="f-membership_number"[^>]*>', page).group(0)
    assert 'value="S-4711"' in number and 'aria-describedby="e-verify"' in number
    expiry = re.search(r'<input id="f-membership_expires_on"[^>]*>', page).group(0)
    assert f'value="{yesterday}"' in expiry and 'aria-invalid="true"' in expiry
    await _reload(db, member)
    assert member.status == "active" and member.verified_at is None
    assert await _audits(db, member.id, "member.verify_membership") == []


async def test_minor_workflow_through_all_minor_statuses(client, db):
    await _admin(db, client)
    parent = await make_member(db, email="parent@example.org")
    minor = await make_member(db, birth_year=MINOR_YEAR)
    await db.commit()
    assert minor.status == "minor_unverified"
    expires = (TODAY + dt.timedelta(days=30)).isoformat()
    await _post(
        client, minor, "verify-membership", membership_number="9", membership_expires_on=expires
    )
    assert (await _reload(db, minor)).status == "minor_membership_verified"
    await _post(client, minor, "link-parent", parent_email="PARENT@example.org ")
    assert (await _reload(db, minor)).status == "minor_verified"
    assert minor.parent_id == parent.id
    await _post(client, minor, "clear-membership", reason="Card was for another member")
    assert (await _reload(db, minor)).status == "minor_parent_verified"
    assert minor.membership_number is None and minor.verified_by_id is None
    [entry] = await _audits(db, minor.id, "member.link_parent")
    assert entry.before == {"status": "minor_membership_verified", "parent_id": None}
    assert entry.after == {"status": "minor_verified", "parent_id": parent.id}


async def test_link_parent_preconditions(client, db):
    await _admin(db, client)
    minor = await make_member(db, birth_year=MINOR_YEAR, email="kid@example.org")
    other_minor = await make_member(db, birth_year=MINOR_YEAR, email="kid2@example.org")
    gone = await make_member(db, email="gone@example.org", deactivated_at=dt.datetime.now(dt.UTC))
    adult = await make_member(db, email="adult@example.org")
    await db.commit()
    cases = [
        ("kid@example.org", "cannot be their own parent"),
        ("kid2@example.org", "is under 18 and cannot be a parent"),
        ("gone@example.org", "is deactivated and cannot be a parent"),
        ("nobody@example.org", "No member has the email address"),
        ("", "Enter the parent"),
    ]
    for email, message in cases:
        response = await _post(client, minor, "link-parent", parent_email=email)
        assert response.status_code == 400, email
        field = re.search(r'<input id="f-parent_email"[^>]*>', response.text).group(0)
        assert f'value="{email}"' in field and 'aria-invalid="true"' in field, email
        error = re.search(
            r'<p class="error" id="e-parent_email" role="alert">([^<]*)<', response.text
        )
        assert message in html.unescape(error.group(1)), email
    response = await _post(client, adult, "link-parent", parent_email="kid@example.org")
    assert "this member is an adult" in response.text
    for m in (minor, other_minor, gone, adult):
        await _reload(db, m)
        assert m.parent_id is None
    assert gone.status == "deactivated"


async def test_link_parent_refuses_a_cycle(db):
    from server.members.actions import ActionRefused, link_parent

    actor = await make_member(db)
    # The minor is (wrongly, e.g. by an old import) recorded as the parent's parent.
    minor = await make_member(db, birth_year=MINOR_YEAR)
    parent = await make_member(db, email="p@example.org", parent_id=minor.id)
    await db.commit()
    try:
        await link_parent(
            db, minor, actor, expected_version=minor.version, parent_email=parent.email, today=TODAY
        )
    except ActionRefused as exc:
        assert "cycle" in exc.message
    else:
        raise AssertionError("a cycle was linked")


async def test_deactivate_and_reactivate(client, db):
    admin = await _admin(db, client)
    member = await make_member(db, verified_at=dt.datetime.now(dt.UTC), membership_number="7")
    await db.commit()
    response = await _post(client, member, "deactivate", reason="")
    assert response.status_code == 400  # the confirmation page again, asking for the reason
    assert "Give a reason" in response.text and 'aria-invalid="true"' in response.text
    await _post(client, member, "deactivate", reason="Asked to leave")
    await _reload(db, member)
    assert member.status == "deactivated" and member.deactivation_reason == "Asked to leave"
    response = await _post(client, member, "deactivate", reason="again")
    page = await client.get(response.headers["location"])
    assert "already deactivated" in page.text
    await _post(client, member, "reactivate")
    assert (await _reload(db, member)).status == "verified"
    [entry] = await _audits(db, member.id, "member.deactivate")
    assert entry.note == "Asked to leave" and entry.after["status"] == "deactivated"
    response = await _post(client, admin, "deactivate", reason="oops")
    page = await client.get(response.headers["location"])
    assert "cannot deactivate your own account" in page.text


async def test_permissions_are_checked_on_the_server(client, db):
    await _admin(db, client, perms=("verify_members",))
    member = await make_member(db)
    await db.commit()
    response = await _post(client, member, "deactivate", reason="x")
    assert response.status_code == 403
    assert "Manage members" in response.text  # the permission by its label
    assert (await _reload(db, member)).status == "active"
    # The page shows only the controls the viewer may use.
    page = await client.get(f"/members/{member.id}/status")
    assert "Verify membership" in page.text and "Deactivate" not in page.text


async def test_stale_form_is_refused_and_writes_nothing(client, db):
    await _admin(db, client)
    member = await make_member(db)
    await db.commit()
    stale_version = member.version
    member.public_notes = "edited elsewhere"
    await db.commit()
    token = await csrf_from(client, f"/members/{member.id}/status")
    response = await client.post(
        f"/members/{member.id}/deactivate",
        data={"csrf_token": token, "version": stale_version, "reason": "x"},
    )
    page = await client.get(response.headers["location"])
    assert "changed by someone else — reload" in page.text
    await _reload(db, member)
    assert member.status == "active"
    count = await db.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.member_id == member.id)
    )
    assert count == 0


async def test_unknown_member_and_bad_version_answer_clearly(client, db):
    await _admin(db, client)
    member = await make_member(db)
    await db.commit()
    token = await csrf_from(client, f"/members/{member.id}/status")
    response = await client.post("/members/999999/deactivate", data={"csrf_token": token})
    assert response.status_code == 404
    response = await client.post(
        f"/members/{member.id}/deactivate",
        data={"csrf_token": token, "version": "abc", "reason": "x"},
    )
    page = await client.get(response.headers["location"])
    assert "reload the page" in page.text
    assert (await _reload(db, member)).status == "active"


async def test_member_detail_page_carries_the_controls_and_returns_there(client, db):
    await _admin(db, client)
    member = await make_member(db)
    await db.commit()
    page = await client.get(f"/members/{member.id}")
    assert page.status_code == 200
    assert "Status actions" in page.text
    assert f'name="back" value="/members/{member.id}"' in page.text
    assert f'name="version" value="{member.version}"' in page.text
    token = await csrf_from(client, f"/members/{member.id}")
    response = await client.post(
        f"/members/{member.id}/deactivate",
        data={
            "csrf_token": token,
            "version": member.version,
            "reason": "Moved away",
            "back": f"/members/{member.id}",
        },
    )
    assert response.headers["location"] == f"/members/{member.id}"
    page = await client.get(response.headers["location"])
    assert "is deactivated" in page.text and "Reactivate" in page.text
    # An outside address is never used as the way back.
    response = await client.post(
        f"/members/{member.id}/reactivate",
        data={"csrf_token": token, "version": member.version + 1, "back": "//evil.example"},
    )
    assert response.headers["location"] == f"/members/{member.id}/status"
