from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from server.audit.models import AuditEntry
from server.groups.models import Group, GroupMembership
from tests.factories import csrf_from, login, make_member, make_staff, two_admins_on
from tests.reload import reload


async def test_admin_creates_a_group_adds_and_ends_a_membership(client, db):
    admin = await make_member(db, is_superuser=True, is_staff=True)
    officer = await make_member(db, email="officer@example.org", membership_number="M-77")
    await db.commit()
    await login(client, admin.email)
    token = await csrf_from(client, "/groups/new")
    response = await client.post(
        "/groups/new",
        data={
            "csrf_token": token,
            "name": "Marshallate",
            "since": "2020-01-01",
            "permissions": ["check_cards"],
            "chair_permissions": ["manage_activities"],
        },
    )
    assert response.status_code == 303
    group = (await db.execute(select(Group))).scalar_one()
    await db.commit()
    assert group.permissions == ["check_cards"]

    response = await client.post(
        f"/groups/{group.id}/memberships",
        data={
            "csrf_token": token,
            "member": "M-77",
            "role": "Earl Marshal",
            "since": "2021-01-01",
            "is_chair": "on",
        },
    )
    assert response.status_code == 303
    page = await client.get(f"/groups/{group.id}")
    assert "Earl Marshal" in page.text and "Chair" in page.text
    membership = (await db.execute(select(GroupMembership))).scalar_one()
    await db.commit()
    assert membership.granted_by_id == admin.id

    # A second chair for the same time is refused with the reason.
    other = await make_member(db, email="other@example.org")
    await db.commit()
    response = await client.post(
        f"/groups/{group.id}/memberships",
        data={
            "csrf_token": token,
            "member": "other@example.org",
            "since": "2022-01-01",
            "is_chair": "on",
        },
    )
    assert response.status_code == 400 and "one chair at a time" in response.text
    refused = select(GroupMembership).where(GroupMembership.member_id == other.id)
    assert (await db.execute(refused)).first() is None
    await db.commit()

    response = await client.post(
        f"/groups/{group.id}/memberships/{membership.id}/end",
        data={"csrf_token": token, "until": dt.date.today().isoformat()},
    )
    assert response.status_code == 303
    await reload(db, membership, officer)
    assert membership.until == dt.date.today() and membership.ended_by_id == admin.id
    actions = (await db.execute(select(AuditEntry.action))).scalars().all()
    await db.commit()
    assert {"group.create", "group_membership.add", "group_membership.end"} <= set(actions)
    # The member's page lists it under the right heading.
    page = await client.get(f"/members/{officer.id}")
    assert "Marshallate" in page.text


async def test_nobody_hands_out_permissions_they_do_not_hold(client, db):
    staff = await make_staff(db, ["manage_groups"])
    await db.commit()
    await login(client, staff.email)
    token = await csrf_from(client, "/groups/new")
    response = await client.post(
        "/groups/new",
        data={
            "csrf_token": token,
            "name": "Sneaky",
            "since": "2020-01-01",
            "permissions": ["manage_settings"],
        },
    )
    assert response.status_code == 400
    assert "only grant permissions you hold" in response.text
    assert (await db.execute(select(Group).where(Group.name == "Sneaky"))).first() is None


async def test_group_period_change_may_not_strand_memberships(client, db):
    admin = await make_member(db, is_superuser=True, is_staff=True)
    member = await make_member(db, email="m@example.org")
    await db.commit()
    await login(client, admin.email)
    token = await csrf_from(client, "/groups/new")
    await client.post(
        "/groups/new", data={"csrf_token": token, "name": "Board", "since": "2020-01-01"}
    )
    group = (await db.execute(select(Group))).scalar_one()
    await db.commit()
    await client.post(
        f"/groups/{group.id}/memberships",
        data={"csrf_token": token, "member": "m@example.org", "since": "2020-06-01"},
    )
    response = await client.post(
        f"/groups/{group.id}/edit",
        data={"csrf_token": token, "name": "Board", "since": "2021-01-01"},
    )
    assert response.status_code == 400 and "would fall outside the group" in response.text
    await reload(db, group)
    assert group.since == dt.date(2020, 1, 1)
    kept = select(GroupMembership.since).where(GroupMembership.member_id == member.id)
    assert (await db.execute(kept)).scalar_one() == dt.date(2020, 6, 1)


async def test_the_audit_log_names_a_groups_permissions_by_their_labels(client, db):
    admin = await make_member(db, is_superuser=True, is_staff=True)
    await db.commit()
    await login(client, admin.email)
    token = await csrf_from(client, "/groups/new")
    response = await client.post(
        "/groups/new",
        data={
            "csrf_token": token,
            "name": "Exchequer",
            "since": "2020-01-01",
            "permissions": ["export_members", "view_reports"],
        },
    )
    assert response.status_code == 303
    log = (await client.get("/admin/audit")).text
    shown = log.split("<main", 1)[1]
    assert "Export the member list as CSV" in shown and "View reports and the check log" in shown
    assert "export_members" not in shown and "view_reports" not in shown
    assert "[&#39;" not in shown  # no Python list syntax


async def test_a_stale_group_edit_page_does_not_undo_another_admins_save(app, client, db):
    first = await make_member(db, is_superuser=True, is_staff=True)
    second = await make_member(db, is_superuser=True, is_staff=True)
    group = Group(name="Board", since=dt.date(2020, 1, 1), permissions=[], chair_permissions=[])
    db.add(group)
    await db.commit()
    path = f"/groups/{group.id}/edit"
    other, mine, theirs = await two_admins_on(app, client, (first.email, second.email), path)
    shown = {"name": "Board", "since": "2020-01-01"}
    pages = {client: {**mine, **shown}, other: {**theirs, **shown}}
    saved = await client.post(
        f"/groups/{group.id}/edit", data={**pages[client], "description": "Meets monthly"}
    )
    assert saved.status_code == 303
    stale = await other.post(f"/groups/{group.id}/edit", data={**pages[other], "name": "Council"})
    assert stale.status_code == 409 and "Someone else saved this" in stale.text
    assert "Meets monthly" in stale.text  # the page shows the group as saved now
    await reload(db, group)
    assert (group.name, group.description) == ("Board", "Meets monthly")
    await other.aclose()


async def test_an_upcoming_membership_is_cancelled_before_it_begins(client, db):
    """An officer added someone to an office from next month, then the appointment falls
    through: 'Cancel before it begins' keeps the row (history) but it never grants
    anything, no longer blocks another chair or a new membership of the same member, and
    it is listed among the previous ones."""
    from server.auth.precedence import standing

    admin = await make_member(db, is_superuser=True, is_staff=True)
    appointee = await make_member(db, email="appointee@example.org")
    group = Group(name="Exchequer", since=dt.date(2020, 1, 1), permissions=["check_cards"])
    db.add(group)
    await db.flush()
    today = dt.date.today()
    upcoming = GroupMembership(
        group_id=group.id,
        member_id=appointee.id,
        since=today + dt.timedelta(days=30),
        role="Kingdom Exchequer",
        is_chair=True,
    )
    db.add(upcoming)
    await db.commit()
    await login(client, admin.email)
    page = await client.get(f"/groups/{group.id}")
    assert "Cancel before it begins" in page.text
    token = await csrf_from(client, f"/groups/{group.id}")
    # The button's form, as the page sends it (its hidden end date is today).
    response = await client.post(
        f"/groups/{group.id}/memberships/{upcoming.id}/end",
        data={"csrf_token": token, "until": today.isoformat()},
    )
    assert response.status_code == 303
    await reload(db, upcoming)
    assert upcoming.is_cancelled and upcoming.ended_by_id == admin.id
    assert upcoming.since == today + dt.timedelta(days=30)  # kept as it was planned
    assert "check_cards" not in await standing(db, appointee, today)
    entry = (
        await db.execute(select(AuditEntry).where(AuditEntry.action == "group_membership.cancel"))
    ).scalar_one()
    await db.commit()
    assert entry.member_id == appointee.id
    page = await client.get(f"/groups/{group.id}")
    previous = page.text[page.text.index('id="h-previous"') :]
    assert "Kingdom Exchequer" in previous and "cancelled before it began" in previous
    assert "cancelled before it began" in (await client.get(f"/members/{appointee.id}")).text
    # Cancelling again changes nothing; the rules no longer see the cancelled period.
    again = await client.post(
        f"/groups/{group.id}/memberships/{upcoming.id}/end",
        data={"csrf_token": token, "until": today.isoformat()},
    )
    assert again.status_code == 400 and "cancelled before it began" in again.text
    other = await make_member(db, email="other-chair@example.org")
    await db.commit()
    for who, since in (("other-chair@example.org", 10), ("appointee@example.org", 20)):
        added = await client.post(
            f"/groups/{group.id}/memberships",
            data={
                "csrf_token": token,
                "member": who,
                "since": (today + dt.timedelta(days=since)).isoformat(),
                "until": (today + dt.timedelta(days=since + 5)).isoformat(),
                "is_chair": "on",
            },
        )
        assert added.status_code == 303, added.text
    assert other.id is not None
    # Nor does the cancelled one keep the group from ending before it would have begun.
    ended = await client.post(
        f"/groups/{group.id}/edit",
        data={
            "csrf_token": token,
            "name": "Exchequer",
            "since": "2020-01-01",
            "until": (today + dt.timedelta(days=25)).isoformat(),
            "permissions": ["check_cards"],
        },
    )
    assert ended.status_code == 303, ended.text


async def test_a_membership_that_has_begun_is_ended_not_cancelled(client, db):
    admin = await make_member(db, is_superuser=True, is_staff=True)
    member = await make_member(db, email="begun@example.org")
    group = Group(name="Heralds", since=dt.date(2020, 1, 1))
    db.add(group)
    await db.flush()
    today = dt.date.today()
    begun = GroupMembership(group_id=group.id, member_id=member.id, since=today)
    db.add(begun)
    await db.commit()
    await login(client, admin.email)
    token = await csrf_from(client, f"/groups/{group.id}")
    refused = await client.post(
        f"/groups/{group.id}/memberships/{begun.id}/end",
        data={"csrf_token": token, "until": (today - dt.timedelta(days=1)).isoformat()},
    )
    assert refused.status_code == 400
    await reload(db, begun)
    assert begun.until is None and not begun.is_cancelled


async def test_refused_membership_changes_answer_400_with_the_reason(client, db):
    """A refused add (overlap) or end (a later date than the set end) redraws the group
    page with the reason; it used to answer 500 (the signed-in officer, expired by the
    rollback, was read outside the database's context)."""
    admin = await make_member(db, is_superuser=True, is_staff=True)
    member = await make_member(db, email="ended@example.org")
    group = Group(name="Chroniclers", since=dt.date(2020, 1, 1))
    db.add(group)
    await db.flush()
    ended = GroupMembership(
        group_id=group.id, member_id=member.id, since=dt.date(2021, 1, 1), until=dt.date(2022, 1, 1)
    )
    db.add(ended)
    await db.commit()
    await login(client, admin.email)
    token = await csrf_from(client, f"/groups/{group.id}")
    later = await client.post(
        f"/groups/{group.id}/memberships/{ended.id}/end",
        data={"csrf_token": token, "until": "2023-01-01"},
    )
    assert later.status_code == 400 and "use Edit to extend it" in later.text
    overlapping = await client.post(
        f"/groups/{group.id}/memberships",
        data={"csrf_token": token, "member": "ended@example.org", "since": "2021-06-01"},
    )
    assert overlapping.status_code == 400 and "may not overlap" in overlapping.text
    await reload(db, ended)
    assert ended.until == dt.date(2022, 1, 1)


async def test_a_stale_membership_edit_page_does_not_undo_another_officers_save(app, client, db):
    """Two officers open the same membership: the first sets its end date, the second
    (page still open-ended) renames the role. The second is told it changed elsewhere;
    the end date stays."""
    first = await make_member(db, is_superuser=True, is_staff=True)
    second = await make_member(db, is_superuser=True, is_staff=True)
    holder = await make_member(db, email="holder@example.org")
    group = Group(name="Seneschalate", since=dt.date(2020, 1, 1))
    db.add(group)
    await db.flush()
    membership = GroupMembership(
        group_id=group.id, member_id=holder.id, since=dt.date(2024, 1, 1), role="Deputy"
    )
    db.add(membership)
    await db.commit()
    path = f"/groups/{group.id}/memberships/{membership.id}/edit"
    other, mine, theirs = await two_admins_on(app, client, (first.email, second.email), path)
    shown = {"role": "Deputy", "since": "2024-01-01", "until": ""}
    saved = await client.post(path, data={**mine, **shown, "until": "2030-12-31"})
    assert saved.status_code == 303
    late = await other.post(path, data={**theirs, **shown, "role": "Kingdom Seneschal"})
    assert late.status_code == 409 and "Someone else saved this" in late.text
    assert 'value="2030-12-31"' in late.text  # the page shows the membership as saved now
    await reload(db, membership)
    assert (membership.role, membership.until) == ("Deputy", dt.date(2030, 12, 31))
    await other.aclose()


async def test_joining_an_ended_group_says_the_group_ended(client, db):
    """A start after the group's end, with the end date left empty (it becomes the
    group's end), is refused for what it is — not "the end date is before the start"."""
    admin = await make_member(db, is_superuser=True, is_staff=True)
    await make_member(db, email="late@example.org")
    group = Group(name="Old Board", since=dt.date(2018, 1, 1), until=dt.date(2025, 10, 27))
    db.add(group)
    await db.commit()
    await login(client, admin.email)
    token = await csrf_from(client, f"/groups/{group.id}")
    response = await client.post(
        f"/groups/{group.id}/memberships",
        data={"csrf_token": token, "member": "late@example.org", "since": "2026-01-01"},
    )
    assert response.status_code == 400
    assert "The group ends on 2025-10-27; a membership cannot start after that." in response.text
    assert "must not be before the start date" not in response.text


async def test_a_group_name_is_taken_whatever_its_case(client, db):
    """ "Membership office" next to "Membership Office" (or "ÆTHELING COUNCIL" next to
    "Ætheling Council") is refused like a branch of the same name, on both databases."""
    admin = await make_member(db, is_superuser=True, is_staff=True)
    db.add(Group(name="Membership Office", since=dt.date(2020, 1, 1)))
    db.add(Group(name="Ætheling Council", since=dt.date(2020, 1, 1)))
    await db.commit()
    await login(client, admin.email)
    token = await csrf_from(client, "/groups/new")
    for name in ("membership office", "ÆTHELING COUNCIL"):
        response = await client.post(
            "/groups/new", data={"csrf_token": token, "name": name, "since": "2021-01-01"}
        )
        assert response.status_code == 400 and "Another group already has this name" in (
            response.text
        ), name
    assert len((await db.execute(select(Group))).scalars().all()) == 2
    await db.commit()
