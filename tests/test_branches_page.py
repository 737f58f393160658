from __future__ import annotations

import re

from sqlalchemy import select

from server.audit.models import AuditEntry
from server.members.models import Branch
from tests.factories import csrf_from, login, make_staff
from tests.reload import reload


async def test_branches_are_added_moved_and_kept_a_tree(client, db):
    staff = await make_staff(db, ["manage_settings"])
    await db.commit()
    await login(client, staff.email)
    token = await csrf_from(client, "/branches")
    post = lambda path, **data: client.post(path, data={"csrf_token": token, **data})  # noqa: E731
    assert (await post("/branches", name="Kingdom of Tests", kind="kingdom")).status_code == 303
    kingdom = (await db.execute(select(Branch))).scalar_one()
    await db.commit()
    response = await post(
        "/branches", name="Shire of Below", kind="shire", parent_id=str(kingdom.id)
    )
    assert response.status_code == 303
    shire = (await db.execute(select(Branch).where(Branch.name == "Shire of Below"))).scalar_one()
    await db.commit()
    assert shire.parent_id == kingdom.id

    duplicate = await post("/branches", name="kingdom of tests", kind="shire")
    assert duplicate.status_code == 400 and "already has this name" in duplicate.text
    # A branch cannot be moved under its own descendant.
    cycle = await post(
        f"/branches/{kingdom.id}/edit",
        name="Kingdom of Tests",
        kind="kingdom",
        parent_id=str(shire.id),
    )
    assert cycle.status_code == 400
    await reload(db, kingdom)
    assert kingdom.parent_id is None
    renamed = await post(
        f"/branches/{shire.id}/edit", name="Shire of Above", kind="shire", parent_id=str(kingdom.id)
    )
    assert renamed.status_code == 303
    page = await client.get("/branches")
    assert page.text.index(">Kingdom of Tests</a>") < page.text.index(">Shire of Above</a>")
    actions = (await db.execute(select(AuditEntry.action))).scalars().all()
    await db.commit()
    assert sorted(actions) == ["branch.create", "branch.create", "branch.update"]


async def test_a_branch_saved_by_another_officer_meanwhile_is_not_silently_overwritten(client, db):
    """Two officers open the same branch's edit page; the first renames it, the second
    (whose page still shows the old name) changes its kind. The second is told the branch
    changed elsewhere and nothing of theirs is saved: the first officer's name stays."""
    staff = await make_staff(db, ["manage_settings"])
    db.add(Branch(name="Shire of Old", kind="shire"))
    await db.commit()
    branch = (await db.execute(select(Branch))).scalar_one()
    await db.commit()
    await login(client, staff.email)
    path = f"/branches/{branch.id}/edit"
    first_page = (await client.get(path)).text
    second_page = (await client.get(path)).text
    seen = lambda page: re.search(r'name="seen" value="([0-9a-f]+)"', page).group(1)  # noqa: E731
    token = await csrf_from(client, path)
    saved = await client.post(
        path,
        data={
            "csrf_token": token,
            "seen": seen(first_page),
            "name": "Shire of New",
            "kind": "shire",
        },
    )
    assert saved.status_code == 303
    late = await client.post(
        path,
        data={
            "csrf_token": token,
            "seen": seen(second_page),
            "name": "Shire of Old",
            "kind": "canton",
        },
    )
    assert late.status_code == 409
    assert "Someone else saved this after you opened the page" in late.text
    assert 'value="Shire of New"' in late.text  # the form now shows what is saved
    await reload(db, branch)
    assert (branch.name, branch.kind) == ("Shire of New", "shire")
    # Saving again from the redrawn page works.
    again = await client.post(
        path,
        data={
            "csrf_token": token,
            "seen": seen(late.text),
            "name": "Shire of New",
            "kind": "canton",
        },
    )
    assert again.status_code == 303
    await reload(db, branch)
    assert branch.kind == "canton"
