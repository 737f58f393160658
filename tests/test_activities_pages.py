"""The Activities pages as members, authorizers and admins use them (both backends)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from server.plugins.activities.models import Activity, ActivityGroup, Authorization
from tests.activities_fixtures import make_activity, make_authorization, make_authorizer
from tests.factories import login, make_member, make_staff, post_form
from tests.plugin_fixtures import set_enabled

TODAY = dt.date.today()


async def test_admin_creates_groups_and_activities_and_bad_input_changes_nothing(client, db):
    admin = await make_staff(db, ["manage_activities"])
    await db.commit()
    await login(client, admin.email)
    response = await post_form(
        client, "/activities/admin/groups/new", {"name": "Rapier", "description": "Fencing"}
    )
    assert response.status_code == 303
    group_id = await db.scalar(select(ActivityGroup.id).where(ActivityGroup.name == "Rapier"))
    await db.commit()  # end the read (SQLite transactions hold the write lock)
    bad = await post_form(
        client,
        "/activities/admin/activities/new",
        {
            "group_id": str(group_id),
            "name": "Youth Rapier",
            "minimum_age": "17",
            "maximum_age": "12",
            "approvals_new": "2",
            "approvals_renewal": "1",
            "authorize_permission": "no_such_permission",
        },
    )
    assert bad.status_code == 400
    assert "Maximum age must not be below the minimum age." in bad.text
    assert "choose one of the listed options" in bad.text
    assert await db.scalar(select(func.count()).select_from(Activity)) == 0
    await db.commit()
    good = await post_form(
        client,
        "/activities/admin/activities/new",
        {
            "group_id": str(group_id),
            "name": "Youth Rapier",
            "term_months": "24",
            "minimum_age": "12",
            "maximum_age": "17",
            "approvals_new": "2",
            "approvals_renewal": "1",
            "authorize_permission": "authorize_rapier",
            "is_active": "on",
        },
    )
    assert good.status_code == 303
    page = await client.get("/activities/admin")
    assert "Youth Rapier" in page.text and "24 months" in page.text and "12–17" in page.text
    assert 'href="/activities/admin"' in page.text  # nav link for holders
    duplicate = await post_form(client, "/activities/admin/groups/new", {"name": "Rapier"})
    assert duplicate.status_code == 400 and "already an activity group" in duplicate.text
    assert (await client.get("/activities/admin/activities/abc")).status_code == 404


async def test_admin_pages_need_the_permission_and_vanish_when_the_plugin_is_off(client, db):
    member = await make_staff(db, ["manage_members"])
    admin = await make_staff(db, ["manage_activities"])
    await db.commit()
    await login(client, member.email)
    assert (await client.get("/activities/admin")).status_code == 403
    client.cookies.clear()
    await login(client, admin.email)
    assert (await client.get("/activities/admin")).status_code == 200
    await set_enabled(db, "activities", False)
    assert (await client.get("/activities/admin")).status_code == 404
    assert (await client.get("/activities/mine")).status_code == 404


async def test_request_queue_vote_and_history_through_the_pages(client, db):
    activity = await make_activity(db, "Armored Combat", "Weapon and Shield", approvals_new=1)
    member = await make_member(db, sca_name="Brand")
    marshal = await make_authorizer(db)
    await db.commit()
    await login(client, member.email)
    mine = await client.get("/activities/mine", follow_redirects=True)
    assert "Weapon and Shield" in mine.text and ">Request<" in mine.text
    await post_form(
        client,
        f"/activities/members/{member.id}/request",
        {"activity_id": activity.id, "kind": "new"},
    )
    again = await post_form(
        client,
        f"/activities/members/{member.id}/request",
        {"activity_id": activity.id, "kind": "new"},
    )
    assert again.status_code == 303
    page = await client.get(f"/activities/members/{member.id}")
    assert "There is already a pending request for Weapon and Shield." in page.text
    assert "waiting for authorizers" in page.text
    assert "Request an authorization" in page.text
    assert "Pending" in page.text
    # the requester sees nothing to vote on; the marshal does
    assert "No requests are waiting for you." in (await client.get("/activities/queue")).text
    client.cookies.clear()
    await login(client, marshal.email)
    queue = await client.get("/activities/queue")
    assert "Brand — Weapon and Shield" in queue.text
    auth_id = await db.scalar(select(Authorization.id))
    other = await make_member(db)
    await db.commit()
    assert (await client.get(f"/activities/members/{other.id}")).status_code == 403
    voted = await post_form(
        client,
        f"/activities/authorizations/{auth_id}/vote",
        {"decision": "approve", "note": "Good form"},
    )
    assert voted.headers["location"] == "/activities/queue"
    assert (
        "Approved: the authorization is now active." in (await client.get("/activities/queue")).text
    )
    client.cookies.clear()
    await login(client, member.email)
    history = await client.get(f"/activities/members/{member.id}")
    assert (
        "Approved" in history.text and "approved by" in history.text and "Good form" in history.text
    )
    assert "Request renewal" in history.text


async def test_retract_and_revoke_through_the_pages(client, db):
    activity = await make_activity(db, "Archery", "Target Archery")
    member = await make_member(db)
    admin = await make_staff(db, ["manage_activities"])
    pending = await make_authorization(db, member, activity, status="pending")
    other = await make_activity(db, "Archery", "Combat Archery")
    held = await make_authorization(db, member, other, expires_on=TODAY + dt.timedelta(days=30))
    await db.commit()
    await login(client, admin.email)
    refused = await post_form(client, f"/activities/authorizations/{pending.id}/retract", {})
    assert refused.status_code == 303
    assert "You can only retract your own requests." in (await client.get("/activities/admin")).text
    no_reason = await post_form(
        client, f"/activities/authorizations/{held.id}/revoke", {"reason": ""}
    )
    assert no_reason.status_code == 303
    assert "Give a reason" in (await client.get("/activities/admin")).text
    await post_form(
        client,
        f"/activities/authorizations/{held.id}/revoke",
        {"reason": "Unsafe shots", "next": "https://evil.example/"},
    )
    listing = await client.get("/activities/admin/authorizations?status=revoked")
    assert "Combat Archery" in listing.text and "Target Archery" not in listing.text
    client.cookies.clear()
    await login(client, member.email)
    response = await post_form(
        client,
        f"/activities/authorizations/{pending.id}/retract",
        {"next": f"/activities/members/{member.id}"},
    )
    assert response.headers["location"] == f"/activities/members/{member.id}"
    page = await client.get(f"/activities/members/{member.id}")
    assert "The request is retracted." in page.text
    assert "Revoked — Unsafe shots" in page.text
    statuses = set(
        await db.scalars(select(Authorization.status).execution_options(populate_existing=True))
    )
    assert statuses == {"retracted", "revoked"}


async def test_member_detail_and_profile_link_to_authorizations_and_the_auth_card(client, db):
    # The authorizations page is for activity managers (test_office_actions_shown: no link
    # for an officer who would only be refused).
    office = await make_staff(db, ["manage_members", "manage_activities"])
    member = await make_member(db)
    await db.commit()
    await login(client, office.email)
    detail = await client.get(f"/members/{member.id}")
    assert f'href="/activities/members/{member.id}"' in detail.text
    assert f'href="/members/{member.id}/auth-card"' in detail.text
    me = await client.get("/me")
    assert 'href="/activities/mine"' in me.text
    assert f'href="/members/{office.id}/auth-card"' in me.text


async def test_every_column_of_the_authorization_tables_has_a_header(client, db):
    """A screen reader names the column of the Revoke and Retract buttons ("Actions"):
    an empty header cell is one that an accessibility audit flags."""
    admin = await make_staff(db, ["manage_activities"])
    await db.commit()
    await login(client, admin.email)
    for path in ("/activities/mine", "/activities/admin/authorizations"):
        page = await client.get(path, follow_redirects=True)
        assert page.status_code == 200
        assert "<th></th>" not in page.text, path
        assert '<span class="visually-hidden">Actions</span></th>' in page.text, path
