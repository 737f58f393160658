from __future__ import annotations

import os

from sqlalchemy import select

from server.members.models import Member
from tests.factories import login
from tests.live import run_manage_each


def _run(tmp_path, database_url, *calls: list[str]):
    """``manage.py create-admin ARGS`` for each of ``calls``, in order, in one process
    (``run_manage_each``: each command's answer is the point, not its process)."""
    env = {**os.environ, "TESSERA_DATA_DIR": str(tmp_path), "DATABASE_URL": database_url}
    return run_manage_each(*((env, ["create-admin", *args]) for args in calls))


async def test_create_admin_makes_and_updates_a_superuser(tmp_path, database_url, client, db):
    short, made, again = _run(
        tmp_path,
        database_url,
        ["root@example.org", "--password", "short"],
        ["Root@Example.org", "--password", "first password!"],
        ["root@example.org", "--password", "second password!"],
    )
    assert short.returncode == 2 and "at least 10" in short.stderr
    assert made.returncode == 0 and "Created superuser" in made.stdout
    assert again.returncode == 0 and "Updated superuser" in again.stdout
    admins = (await db.execute(select(Member).where(Member.is_superuser))).scalars().all()
    await db.commit()
    assert len(admins) == 1 and admins[0].is_staff
    assert (await login(client, "root@example.org", "first password!")).status_code == 400
    assert (await login(client, "root@example.org", "second password!")).status_code == 303
    assert (await client.get("/admin/settings")).status_code == 200


async def test_create_admin_refuses_an_address_nobody_could_log_in_with(
    tmp_path, database_url, client, db
):
    """An operator's typo (no @, a comma, an address longer than the column) gets two
    lines and exit 2, and no superuser is made; surrounding spaces (a pasted address) are
    trimmed as the login form trims them, so the admin can log in."""
    bad = ("root", "root@example,org", "a" * 250 + "@example.org")
    *refusals, made = _run(
        tmp_path,
        database_url,
        *([address, "--password", "first password!"] for address in bad),
        ["  root@example.org ", "--password", "first password!"],
    )
    for refused in refusals:
        assert refused.returncode == 2, refused.stderr
        assert "Traceback" not in refused.stderr and "Nothing was changed" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 2
    assert made.returncode == 0 and "Created superuser root@example.org." in made.stdout
    admins = (await db.execute(select(Member).where(Member.is_superuser))).scalars().all()
    await db.commit()
    assert [a.email for a in admins] == ["root@example.org"]
    assert (await login(client, "root@example.org", "first password!")).status_code == 303


async def test_create_admin_judges_age_by_the_organisations_date(
    tmp_path, database_url, db, monkeypatch
):
    """A member made superuser on the organisation's first day of their 18th birth month
    (already begun where it keeps its clock, not yet on the machine's) is an adult: one
    "today" for the organisation, as the cards, checks and nightly jobs use."""
    import datetime as dt

    from server import clock
    from server.core_commands import _create_admin
    from server.settings.store import set_setting
    from tests.factories import make_member

    moment = dt.datetime(2027, 1, 31, 12, 0, tzinfo=dt.UTC)  # 2027-02-01 at UTC+14
    member = await make_member(db, email="wulf@example.org", birth_month=2, birth_year=2009)
    member_id = member.id
    await set_setting(db, "time_zone", "Pacific/Kiritimati", None)
    await db.commit()
    monkeypatch.setattr(clock, "now", lambda: moment)
    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", database_url)
    await _create_admin("wulf@example.org", "a long password")
    db.expire_all()
    made = await db.get(Member, member_id)
    assert made is not None and made.is_superuser
    assert made.status == "active"
