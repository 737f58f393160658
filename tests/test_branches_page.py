from __future__ import annotations

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
