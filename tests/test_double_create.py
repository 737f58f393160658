"""Two admins creating a record under the same name or code at the same moment (or one
admin's double click): one record, and the later post is told the name is taken — never
an error page, never two records (the check and the write happen under a lock)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from server.groups.models import Group
from server.member_codes.models import Agreement
from server.members.models import Branch
from tests.db_fixtures import until_someone_waits_for_a_lock
from tests.factories import csrf_from, login, make_staff

CASES = {
    "agreement": (
        "/member-codes/new",
        {
            "organisation": "Guild of Smiths",
            "code": "SMITH-1",
            "starts_on": "2026-01-01",
            "ends_on": "2026-12-31",
            "seats": "2",
        },
        Agreement,
        "Another agreement already uses this code",
    ),
    "group": (
        "/groups/new",
        {"name": "Scribes", "since": "2020-01-01"},
        Group,
        "Another group already has this name",
    ),
    "branch": (
        "/branches",
        {"name": "Shire of Twice", "kind": "shire"},
        Branch,
        "Another branch already has this name",
    ),
}


def _the_other_admins_record(kind: str):
    if kind == "agreement":
        return Agreement(
            organisation="Smiths' Guild",
            code="smith-1",
            code_key="smith-1",
            starts_on=dt.date(2026, 1, 1),
            ends_on=dt.date(2026, 12, 31),
            seats=1,
        )
    if kind == "group":
        return Group(
            name="Scribes", since=dt.date(2020, 1, 1), permissions=[], chair_permissions=[]
        )
    return Branch(name="Shire of Twice", kind="shire")


@pytest.mark.postgres_only
@pytest.mark.parametrize("kind", list(CASES))
async def test_the_same_name_created_by_two_admins_at_once(app, client, db, kind):
    path, data, model, taken = CASES[kind]
    admin = await make_staff(db, ["manage_members", "manage_settings", "manage_groups"])
    await db.commit()
    await login(client, admin.email)
    token = await csrf_from(client, path)
    async with app.state.sessionmaker() as other:
        other.add(_the_other_admins_record(kind))
        await other.flush()  # the other admin's save, not committed yet
        post = asyncio.create_task(client.post(path, data={**data, "csrf_token": token}))
        await until_someone_waits_for_a_lock(db, unless=post)
        await other.commit()
    response = await post
    assert response.status_code == 400, response.status_code
    assert taken in response.text
    count = await db.scalar(select(func.count()).select_from(model))
    await db.commit()
    assert count == (2 if kind == "group" else 1)  # groups: the admin's own group too
