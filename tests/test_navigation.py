"""The admin menu (issue 15, item 4): grouped, the current page marked, only the links the
viewer may use; permissions shown by their labels, never their keys."""

from __future__ import annotations

import re

from tests.factories import login, make_group, make_member, make_staff


def _menu(page: str) -> dict[str, list[str]]:
    """Group heading -> the labels of its links and buttons, in the menu's order."""
    panel = page[page.index('<div class="menu-panel">') : page.index("</details>")]
    groups: dict[str, list[str]] = {}
    pattern = r'<p class="menu-heading"[^>]*>([^<]+)</p>\s*<ul[^>]*>(.*?)</ul>'
    for heading, body in re.findall(pattern, panel, re.S):
        labels = re.findall(r"<(?:a|button) [^>]*>([^<]*)</(?:a|button)>", body)
        groups[heading] = [label.strip() for label in labels]
    return groups


async def test_the_menu_is_grouped_and_marks_the_current_page(client, db):
    officer = await make_staff(db, ["manage_members", "view_reports"])
    member = await make_member(db)
    await db.commit()
    await login(client, officer.email)
    page = (await client.get("/members")).text
    menu = _menu(page)
    assert menu["Register"][:2] == ["Members", "Applicants"]
    assert "Audit log" in menu["Administration"] and "Outbox" not in menu["Administration"]
    assert "Check log" in menu["Checks"]
    assert menu["You"] == ["My profile", "Log out"]
    assert "Settings" not in page  # no manage_settings, no link
    assert '<a href="/members" aria-current="page">Members</a>' in page
    detail = (await client.get(f"/members/{member.id}")).text
    assert '<a href="/members" aria-current="true">Members</a>' in detail
    assert detail.count("aria-current") == 1


async def test_the_profile_s_own_pages_mark_my_profile(client, db):
    """/me/cards and /me/membership-proof are reached from the profile and
    lie under it: the menu says where the member is, for an officer and a member alike."""
    officer = await make_staff(db, ["manage_members"])
    member = await make_member(db)
    await db.commit()
    for who in (officer, member):
        await login(client, who.email)
        for path in ("/me/cards", "/me/membership-proof"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert '<a href="/me" aria-current="true">My profile</a>' in page.text, path
            assert page.text.count("aria-current") == 1, path
        profile = (await client.get("/me")).text
        assert '<a href="/me" aria-current="page">My profile</a>' in profile


async def test_superusers_find_the_outbox_in_the_menu(client, db):
    root = await make_staff(db, [], is_superuser=True)
    await db.commit()
    await login(client, root.email)
    assert "Outbox" in _menu((await client.get("/")).text)["Administration"]


async def test_permissions_are_shown_by_their_labels(client, db):
    await make_group(db, "Marshallate", permissions=["check_cards", "view_reports"])
    officer = await make_staff(db, ["manage_groups"])
    await db.commit()
    await login(client, officer.email)
    groups = (await client.get("/groups")).text
    assert "Check member cards as a marshal" in groups and "check_cards" not in groups
    refused = await client.get("/admin/settings")
    assert refused.status_code == 403
    assert "Edit app settings" in refused.text and "manage_settings" not in refused.text


async def test_the_dashboard_is_marked_as_the_current_page(client, db):
    officer = await make_staff(db, ["manage_members"])
    await db.commit()
    await login(client, officer.email)
    dashboard = (await client.get("/")).text
    assert re.search(r'<a class="brand" href="/" aria-current="page">', dashboard)
    assert dashboard.count("aria-current") == 1
    members = (await client.get("/members")).text
    assert '<a class="brand" href="/">' in members and members.count("aria-current") == 1


async def test_every_menu_link_opens_for_each_single_permission(client, db):
    """An officer holding one permission (a marshal: ``check_cards``) finds in the menu only
    pages they may open: no "Members" link that answers 403."""
    from server.auth.permissions import catalogue

    for permission in sorted(p.key for p in catalogue()):
        officer = await make_staff(db, [permission])
        await db.commit()
        client.cookies.clear()
        await login(client, officer.email)
        menu = (await client.get("/")).text
        panel = menu[menu.index('<div class="menu-panel">') : menu.index("</details>")]
        for href in re.findall(r'<a href="(/[^"]*)"', panel):
            answer = await client.get(href)
            assert answer.status_code == 200, (permission, href, answer.status_code)


SKIP_LINKS = re.compile(r"^/(logout|card/|check/(?!scan/about)|static/|pwa/)|\.(csv|json|pdf)$")


async def _refused_links(client, start: str = "/") -> list[str]:
    """Follow every link shown, one page per address pattern; the links that answer 403."""
    seen: set[str] = set()
    queue = [(start, "")]
    refused: list[str] = []
    while queue:
        path, linked_from = queue.pop(0)
        key = re.sub(r"/\d+(?=/|$)", "/{id}", path.split("?")[0])
        if key in seen:
            continue
        seen.add(key)
        answer = await client.get(path)
        if answer.status_code == 403:
            refused.append(f"{linked_from} -> {path}")
            continue
        if answer.status_code != 200 or "html" not in answer.headers.get("content-type", ""):
            continue
        for href in re.findall(r'<a [^>]*href="(/[^"#]*)', answer.text):
            href = href.replace("&amp;", "&")
            if not SKIP_LINKS.search(href.split("?")[0]):
                queue.append((href, path))
    return refused


async def test_no_link_shown_to_an_officer_answers_403(client, db):
    """Officers who each hold a part of the work follow every link they are shown: none is
    refused — a name in the audit log (view_reports), a member of a group or "Edit" on the
    membership of someone above them (manage_groups), "Print the auth card" on another
    member's authorizations (manage_activities)."""
    from server.audit.log import record
    from tests.activities_fixtures import make_activity, make_authorization

    root = await make_staff(db, [], is_superuser=True)
    member = await make_member(db, sca_name="Plain Pat")
    above = await make_staff(
        db, ["manage_members", "manage_groups", "manage_activities", "view_reports"]
    )
    rapier = await make_activity(db, "Rapier", "Single Rapier")
    await make_authorization(db, member, rapier)
    record(db, actor_id=root.id, action="member.update", entity=member, member_id=member.id)
    record(db, actor_id=above.id, action="member.update", entity=above, member_id=above.id)
    await db.commit()
    found: dict[str, list[str]] = {}
    for permission, page in (
        ("view_reports", "/admin/audit"),
        ("manage_groups", "/groups"),
        ("manage_activities", f"/activities/members/{member.id}"),
    ):
        officer = await make_staff(db, [permission])
        await db.commit()
        client.cookies.clear()
        await login(client, officer.email)
        refused = [r for start in ("/", page) for r in await _refused_links(client, start)]
        if refused:
            found[permission] = sorted(set(refused))
    assert found == {}
