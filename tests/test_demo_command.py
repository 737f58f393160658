from __future__ import annotations

import os
import re

from sqlalchemy import func, select

from server.demo.command import load_demo
from server.demo.core import ADMIN_EMAIL, ADMIN_PASSWORD
from server.members.models import Branch, Member
from server.nightly.models import NightlyJobRun
from tests.factories import login
from tests.live import run_manage


async def test_demo_is_idempotent_and_the_admin_can_log_in(database_url, client, db):
    first = await load_demo(database_url, "http://testserver")
    counts = [await db.scalar(select(func.count()).select_from(t)) for t in (Member, Branch)]
    await db.commit()
    second = await load_demo(database_url, "http://testserver")
    again = [await db.scalar(select(func.count()).select_from(t)) for t in (Member, Branch)]
    await db.commit()
    assert counts == again
    assert any(ADMIN_EMAIL in line and ADMIN_PASSWORD in line for line in first.notes)
    assert first.notes == second.notes
    assert (await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303
    assert (await client.get("/members")).status_code == 200


def test_manage_py_demo_and_nightly(tmp_path, database_url):
    env = {**os.environ, "TESSERA_DATA_DIR": str(tmp_path), "DATABASE_URL": database_url}
    demo = run_manage(env, "demo")
    assert demo.returncode == 0, demo.stderr
    assert f"as {ADMIN_EMAIL} with the password {ADMIN_PASSWORD}" in demo.stdout
    nightly = run_manage(env, "nightly")
    assert nightly.returncode == 0, nightly.stderr
    assert "staff_sync: staff granted to" in nightly.stdout
    # The demo names the Membership Office's address: the weekly recap goes out.
    recap = run_manage(env, "weekly-recap")
    assert recap.returncode == 0 and "Queued the weekly recap" in recap.stdout, recap.stdout


async def test_demo_covers_every_status_and_the_offices(database_url, db):
    import datetime as dt

    from server.groups.models import Group, GroupMembership
    from server.members.status import STATUSES

    await load_demo(database_url, "http://testserver")
    today = dt.date.today()
    members = list((await db.execute(select(Member))).scalars())
    assert len(members) >= 45
    assert {m.status for m in members} == {s.key for s in STATUSES}
    minors = [m for m in members if m.status.startswith("minor")]
    assert any(m.parent_id for m in minors) and any(m.parent_id is None for m in minors)
    kinds = {b.kind for b in (await db.execute(select(Branch))).scalars()}
    assert {"kingdom", "principality", "barony", "shire"} <= kinds
    for name in ("Marshallate", "Membership Office"):
        group = (await db.execute(select(Group).where(Group.name == name))).scalar_one()
        rows = list(
            (
                await db.execute(
                    select(GroupMembership).where(GroupMembership.group_id == group.id)
                )
            ).scalars()
        )
        assert any(r.is_current(today) for r in rows)
        assert any(r.until is not None and r.until < today for r in rows)
    await db.commit()


async def test_every_login_the_demo_prints_works(database_url, client, db):
    """The Quickstart's new user logs in with what `serve --demo` prints: each line that
    names a password names the accounts it opens (the marshals' differs from the other
    members', so no line may claim the members' password for every other account)."""
    notes = (await load_demo(database_url, "http://testserver")).notes
    tried = 0
    for line in notes:
        passwords = re.findall(r"tessera-demo-[a-z]+", line)
        if not passwords:
            continue
        assert len(passwords) == 1, line
        assert "Every other" not in line
        for email in re.findall(r"[\w.]+@example\.org", line):
            client.cookies.clear()
            assert (await login(client, email, passwords[0])).status_code == 303, line
            tried += 1
    assert tried >= 5  # the admin, two officers, a marshal and the fighter


async def test_nightly_for_a_date_years_away_is_refused_before_any_job_runs(
    tmp_path, database_url, db
):
    """`nightly --date 0001-01-02` (a typo for a catch-up) ran the jobs as of year 1:
    staff_sync took staff access from every officer (and mailed them), then retention
    failed with an OverflowError traceback. Now two lines, exit 2, nothing run."""
    env = {**os.environ, "TESSERA_DATA_DIR": str(tmp_path), "DATABASE_URL": database_url}
    demo = run_manage(env, "demo")
    assert demo.returncode == 0, demo.stderr
    staff = select(func.count()).select_from(Member).where(Member.is_staff)
    before = await db.scalar(staff)
    await db.commit()
    for typo in ("0001-01-02", "9026-12-01"):
        nightly = run_manage(env, "nightly", "--date", typo)
        assert nightly.returncode == 2, nightly.stdout + nightly.stderr
        lines = nightly.stderr.strip().splitlines()
        assert len(lines) == 2 and "Nothing was run" in lines[1], nightly.stderr
        assert "Traceback" not in nightly.stderr
    assert await db.scalar(staff) == before
    assert await db.scalar(select(func.count()).select_from(NightlyJobRun)) == 0
