"""Age-up: a minor turns 18 on the 1st of the birth month; the parent link ends, audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, select

from server.audit.models import AuditEntry
from server.members.ageup import age_up_job, age_up_member, age_up_register
from server.members.models import Member
from server.nightly.registry import jobs
from tests.factories import csrf_from, login, make_member, make_staff
from tests.reload import reload


async def _minor_with_parent(db, birth_month: int, birth_year: int, today: dt.date, **kw):
    parent = await make_member(db)
    member = await make_member(db, birth_month=birth_month, birth_year=birth_year, **kw)
    member.parent_id = parent.id
    from server.members.status import refresh_status

    refresh_status(member, today)
    await db.flush()
    return member, parent


@pytest.mark.parametrize(
    ("birth_month", "birth_year", "day_before", "first"),
    [
        (6, 2008, dt.date(2026, 5, 31), dt.date(2026, 6, 1)),
        (1, 2008, dt.date(2025, 12, 31), dt.date(2026, 1, 1)),  # December → January
        (12, 2007, dt.date(2025, 11, 30), dt.date(2025, 12, 1)),
    ],
)
async def test_register_boundaries(db, birth_month, birth_year, day_before, first):
    member, parent = await _minor_with_parent(db, birth_month, birth_year, day_before)
    assert member.status == "minor_parent_verified"
    await db.commit()
    assert await age_up_register(db, day_before) == 0
    await db.commit()
    await db.refresh(member)
    assert member.parent_id == parent.id and member.status == "minor_parent_verified"
    version = member.version
    assert await age_up_register(db, first) == 1
    await db.commit()
    await db.refresh(member)
    assert member.parent_id is None and member.status == "active"
    assert member.version == version + 1
    [entry] = (
        (await db.execute(select(AuditEntry).where(AuditEntry.member_id == member.id)))
        .scalars()
        .all()
    )
    assert entry.action == "member.age_up" and entry.actor_id is None
    assert entry.before == {"status": "minor_parent_verified", "parent_id": parent.id}
    assert entry.after == {"status": "active", "parent_id": None}
    assert "parent link ended" in entry.note
    assert await age_up_register(db, first) == 0  # idempotent


async def test_register_follows_the_table_and_leaves_others_alone(db):
    today = dt.date(2026, 3, 1)
    verified = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    turned = {"birth_month": 3, "birth_year": 2008}
    both, _ = await _minor_with_parent(db, **turned, today=today - dt.timedelta(days=1))
    both.verified_at = verified
    unverified_alone = await make_member(db, **turned)
    unverified_alone.status = "minor_unverified"  # as it was yesterday
    verified_alone = await make_member(db, **turned, verified_at=verified)
    verified_alone.status = "minor_membership_verified"
    deactivated, parent = await _minor_with_parent(
        db, **turned, today=today, deactivated_at=verified
    )
    deleted, _ = await _minor_with_parent(db, **turned, today=today, deleted_at=verified)
    still_minor, _ = await _minor_with_parent(db, 4, 2008, today)
    await db.commit()
    assert await age_up_register(db, today) == 3
    await db.commit()
    for m in (both, unverified_alone, verified_alone, deactivated, deleted, still_minor):
        await db.refresh(m)
    assert (both.status, both.parent_id) == ("verified", None)
    assert unverified_alone.status == "active"
    assert verified_alone.status == "verified"
    assert (deactivated.status, deactivated.parent_id) == ("deactivated", parent.id)
    assert deleted.parent_id is not None
    assert still_minor.status == "minor_parent_verified" and still_minor.parent_id is not None


async def test_age_up_member_on_save(db):
    today = dt.date(2026, 6, 1)
    member, parent = await _minor_with_parent(db, 6, 2008, today - dt.timedelta(days=1))
    await db.commit()
    assert age_up_member(db, member, today - dt.timedelta(days=1)) is False
    assert age_up_member(db, member, today, actor_id=parent.id) is True
    await db.commit()
    await db.refresh(member)
    assert member.parent_id is None and member.status == "active"
    entry = (
        await db.execute(select(AuditEntry).where(AuditEntry.member_id == member.id))
    ).scalar_one()
    assert entry.after == {"status": "active", "parent_id": None}
    deactivated, _ = await _minor_with_parent(
        db, 6, 2008, today, deactivated_at=dt.datetime.now(dt.UTC)
    )
    assert age_up_member(db, deactivated, today) is False
    assert deactivated.parent_id is not None


def test_age_up_is_a_nightly_job_that_runs_first():
    [job] = [job for job in jobs() if job.name == "age_up"]
    assert job.order == 10  # before jobs that read statuses (staff sync, expiry …)


async def test_members_are_not_loaded_as_objects(db):
    """The nightly pass changes the register in SQL: no Member object is loaded for it."""
    today = dt.date(2026, 6, 1)
    members = [
        (await _minor_with_parent(db, 6, 2008, today - dt.timedelta(days=1)))[0] for _ in range(3)
    ]
    ids = [member.id for member in members]
    await db.commit()
    db.expunge_all()
    loaded: list[int] = []

    def on_load(member: Member, _context: object) -> None:
        loaded.append(member.id)

    event.listen(Member, "load", on_load)
    try:
        assert await age_up_register(db, today) == 3
        await db.commit()
    finally:
        event.remove(Member, "load", on_load)
    assert loaded == []
    assert not any(isinstance(obj, Member) for obj in db.identity_map.values())
    statuses = await db.execute(select(Member.status).where(Member.id.in_(ids)))
    assert statuses.scalars().all() == ["active"] * 3


async def test_saving_a_member_ages_them_up_but_not_when_deactivated(db):
    from server.members.service import save_member

    today = dt.date(2026, 6, 1)
    member, _ = await _minor_with_parent(db, 6, 2008, today - dt.timedelta(days=1))
    gone, parent = await _minor_with_parent(
        db, 6, 2008, today, deactivated_at=dt.datetime.now(dt.UTC)
    )
    await db.commit()
    await save_member(db, member, {"public_notes": "saved"}, actor_id=None, today=today)
    await save_member(db, gone, {"public_notes": "saved"}, actor_id=None, today=today)
    await db.commit()
    assert (member.parent_id, member.status) == (None, "active")
    assert (gone.parent_id, gone.status) == (parent.id, "deactivated")


async def test_bench_seeds_and_ages_up_the_due_members(tmp_path):
    from server.members.ageup_bench import run_bench

    figures = await run_bench(
        f"sqlite+aiosqlite:///{tmp_path / 'bench.sqlite3'}", 300, dt.date(2026, 6, 15)
    )
    assert figures["register size"] == 300
    assert figures["first night: members aged up"] == 30  # every tenth turns 18 this month
    assert figures["second night: members aged up"] == 0
    assert figures["audit rows"] == 30


# One rule on every path ---------------------------------------------------------------
# A member who turned 18 on the 1st of this month, stored as yesterday's nightly left them.

TODAY = dt.date.today()
JUST_18 = {"birth_month": TODAY.month, "birth_year": TODAY.year - 18}
AGE_UP_ROW = ("minor_parent_verified", "active", "Turned 18: parent link ended.")


async def _turned_18(db, **kw):
    parent = await make_member(db)
    member = await make_member(db, parent_id=parent.id, **JUST_18, **kw)
    if member.deactivated_at is None:
        member.status = "minor_parent_verified"  # the nightly has not run since the 1st
    if member.deleted_at is not None:
        member.email_key = None  # as soft delete leaves it
    await db.commit()
    return member, parent


async def _age_up_rows(db, member_id):
    rows = (
        (
            await db.execute(
                select(AuditEntry)
                .where(AuditEntry.member_id == member_id, AuditEntry.action == "member.age_up")
                .order_by(AuditEntry.id)
            )
        )
        .scalars()
        .all()
    )
    await db.commit()
    return rows


async def _login_staff(db, client):
    staff = await make_staff(db, ["manage_members", "verify_members"])
    await db.commit()
    await login(client, staff.email)
    return staff


def _edit_form(member, token):
    return {
        "csrf_token": token,
        "version": str(member.version),
        "sca_name": member.sca_name,
        "first_name": member.first_name,
        "middle_name": member.middle_name,
        "last_name": member.last_name,
        "email": member.email,
        "birth_month": str(member.birth_month),
        "birth_year": str(member.birth_year),
        "public_notes": "Saved after the birthday.",
    }


async def _nightly(db, client, member):
    assert await age_up_job(db, TODAY) == "age-up: 1 member(s) turned 18"
    await db.commit()


async def _save_member(db, client, member):
    from server.members.service import save_member

    changed = await save_member(db, member, {"public_notes": "Saved."}, actor_id=None, today=TODAY)
    assert changed == {"public_notes": "Saved.", "parent_id": None, "status": "active"}
    await db.commit()


async def _admin_edit(db, client, member):
    await _login_staff(db, client)
    token = await csrf_from(client, f"/members/{member.id}/edit")
    response = await client.post(f"/members/{member.id}/edit", data=_edit_form(member, token))
    assert response.status_code == 303


async def _profile_save(db, client, member):
    """The member saves their own profile and changes nothing: the save still ages them up."""
    await login(client, member.email)
    token = await csrf_from(client, "/me")
    response = await client.post(
        "/me/info", data={"csrf_token": token, "version": str(member.version)}
    )
    assert response.status_code == 303


async def _post_verify(client, member, token):
    return await client.post(
        f"/members/{member.id}/verify-membership",
        data={
            "csrf_token": token,
            "version": member.version,
            "membership_number": "18018",
            "membership_expires_on": (TODAY + dt.timedelta(days=300)).isoformat(),
        },
    )


async def _verify_action(db, client, member):
    await _login_staff(db, client)
    token = await csrf_from(client, f"/members/{member.id}/status")
    response = await _post_verify(client, member, token)
    page = await client.get(response.headers["location"])
    assert "Membership verified" in page.text


PATHS = {
    "nightly": (_nightly, "active"),
    "save_member": (_save_member, "active"),
    "admin edit page": (_admin_edit, "active"),
    "profile page": (_profile_save, "active"),
    "verify action": (_verify_action, "verified"),
}


@pytest.mark.parametrize("path", PATHS)
async def test_every_path_ages_up_the_same_way(client, db, path):
    run, final_status = PATHS[path]
    member, parent = await _turned_18(db)
    version = member.version
    await run(db, client, member)
    await reload(db, member)
    assert (member.parent_id, member.status) == (None, final_status)
    assert member.version == version + 1  # one write
    [entry] = await _age_up_rows(db, member.id)
    assert (entry.before, entry.after, entry.note) == (
        {"status": AGE_UP_ROW[0], "parent_id": parent.id},
        {"status": AGE_UP_ROW[1], "parent_id": None},
        AGE_UP_ROW[2],
    )
    # The path's own audit row holds only its own change, not the age-up again.
    others = (
        (
            await db.execute(
                select(AuditEntry).where(
                    AuditEntry.member_id == member.id, AuditEntry.action != "member.age_up"
                )
            )
        )
        .scalars()
        .all()
    )
    await db.commit()
    assert all("parent_id" not in (row.after or {}) for row in others)


async def _unchanged_nightly(db, client, member):
    await age_up_register(db, TODAY)
    await db.commit()


async def _unchanged_save_member(db, client, member):
    from server.members.service import save_member

    assert (
        await save_member(db, member, {"sca_name": member.sca_name}, actor_id=None, today=TODAY)
        == {}
    )
    await db.commit()


async def _unchanged_admin_edit(db, client, member):
    await _login_staff(db, client)
    token = await csrf_from(client, "/login")
    response = await client.post(f"/members/{member.id}/edit", data=_edit_form(member, token))
    if member.deleted_at is not None:
        assert response.status_code == 409  # a deleted member's record is read, not edited
    else:
        assert response.status_code == 303


async def _unchanged_verify_action(db, client, member):
    await _login_staff(db, client)
    token = await csrf_from(client, "/login")
    response = await _post_verify(client, member, token)
    assert response.status_code == (404 if member.deleted_at is not None else 303)


UNCHANGED_PATHS = {
    "nightly": _unchanged_nightly,
    "save_member": _unchanged_save_member,
    "admin edit page": _unchanged_admin_edit,
    "verify action": _unchanged_verify_action,
}


@pytest.mark.parametrize("path", UNCHANGED_PATHS)
@pytest.mark.parametrize("kind", ["deactivated", "deleted"])
async def test_deactivated_and_deleted_members_are_left_alone_on_every_path(client, db, path, kind):
    """Deactivated and deleted members keep their parent link and status, unaudited.

    (Neither can log in, so the profile page is no path for them.)
    """
    member, parent = await _turned_18(db, **{f"{kind}_at": dt.datetime.now(dt.UTC)})
    status = member.status
    await UNCHANGED_PATHS[path](db, client, member)
    await reload(db, member)
    assert (member.parent_id, member.status) == (parent.id, status)
    assert await _age_up_rows(db, member.id) == []


async def _audit_actions(db, member_id):
    rows = (
        await db.execute(
            select(AuditEntry.action)
            .where(AuditEntry.member_id == member_id)
            .order_by(AuditEntry.id)
        )
    ).scalars()
    actions = list(rows)
    await db.commit()
    return actions


async def test_a_save_that_changes_nothing_else_writes_only_the_age_up(db):
    from server.members.service import save_member

    member, parent = await _turned_18(db)
    changed = await save_member(
        db, member, {"sca_name": member.sca_name}, actor_id=parent.id, today=TODAY
    )
    await db.commit()
    assert changed == {"parent_id": None, "status": "active"}
    assert await _audit_actions(db, member.id) == ["member.age_up"]
    [entry] = await _age_up_rows(db, member.id)
    assert entry.actor_id == parent.id
    # Saved again: nothing changed, no write, no audit row.
    version = member.version
    assert (
        await save_member(db, member, {"sca_name": member.sca_name}, actor_id=None, today=TODAY)
        == {}
    )
    await db.commit()
    assert member.version == version
    assert await _audit_actions(db, member.id) == ["member.age_up"]


async def test_a_corrected_birth_date_ages_up_after_the_update(db):
    from server.members.service import save_member

    parent = await make_member(db)
    member = await make_member(db, parent_id=parent.id, birth_month=1, birth_year=TODAY.year - 10)
    assert member.status == "minor_parent_verified"
    await db.commit()
    await save_member(db, member, {"birth_year": TODAY.year - 20}, actor_id=None, today=TODAY)
    await db.commit()
    assert (member.parent_id, member.status) == (None, "active")
    assert await _audit_actions(db, member.id) == ["member.update", "member.age_up"]
    [entry] = await _age_up_rows(db, member.id)
    assert entry.before == {"status": "active", "parent_id": parent.id}


async def test_deactivating_a_member_who_turned_18_ages_them_up_first(db):
    from server.members.actions import deactivate

    admin = await make_staff(db, ["manage_members"])
    member, parent = await _turned_18(db)
    await deactivate(
        db, member, admin, expected_version=member.version, reason="Moved away", today=TODAY
    )
    await db.commit()
    assert (member.parent_id, member.status) == (None, "deactivated")
    assert await _audit_actions(db, member.id) == ["member.age_up", "member.deactivate"]
    [entry] = await _age_up_rows(db, member.id)
    assert entry.after == {"status": "active", "parent_id": None}


async def test_reactivating_an_adult_with_a_parent_link_ages_them_up(db):
    from server.members.actions import reactivate

    admin = await make_staff(db, ["manage_members"])
    member, parent = await _turned_18(db, deactivated_at=dt.datetime.now(dt.UTC))
    await reactivate(db, member, admin, expected_version=member.version, today=TODAY)
    await db.commit()
    assert (member.parent_id, member.status) == (None, "active")
    assert await _audit_actions(db, member.id) == ["member.reactivate", "member.age_up"]
    [entry] = await _age_up_rows(db, member.id)
    assert (entry.before, entry.after) == (
        {"status": "active", "parent_id": parent.id},
        {"status": "active", "parent_id": None},
    )


async def test_creating_a_member_applies_the_rule_without_an_age_up_row(db):
    from server.members.service import create_member

    parent = await make_member(db)
    adult = await create_member(
        db,
        {"email": "adult@example.org", "parent_id": parent.id, **JUST_18},
        actor_id=None,
        today=TODAY,
    )
    minor = await create_member(
        db,
        {
            "email": "minor@example.org",
            "parent_id": parent.id,
            "birth_month": 1,
            "birth_year": TODAY.year - 10,
        },
        actor_id=None,
        today=TODAY,
    )
    gone = await create_member(
        db,
        {
            "email": "gone@example.org",
            "parent_id": parent.id,
            "deactivated_at": dt.datetime.now(dt.UTC),
            **JUST_18,
        },
        actor_id=None,
        today=TODAY,
    )
    await db.commit()
    assert (adult.parent_id, adult.status) == (None, "active")
    assert (minor.parent_id, minor.status) == (parent.id, "minor_parent_verified")
    assert (gone.parent_id, gone.status) == (parent.id, "deactivated")
    for member in (adult, minor, gone):
        assert await _audit_actions(db, member.id) == ["member.create"]
    [created] = (
        await db.execute(select(AuditEntry).where(AuditEntry.member_id == adult.id))
    ).scalars()
    assert created.after["parent_id"] is None and created.after["status"] == "active"


async def test_the_loaded_member_rule_is_the_nightly_sql_rule(db):
    """``is_due`` and ``due_clause`` pick the same members, whatever their facts."""
    import itertools

    from server.members.ageup import due_clause, is_due

    today = dt.date(2026, 6, 1)
    parent = await make_member(db)
    now = dt.datetime.now(dt.UTC)
    births = [(6, 2008), (7, 2008), (None, None)]  # just 18, still 17, unknown (adult)
    members = []
    for deactivated, deleted, (month, year), linked, status in itertools.product(
        (None, now), (None, now), births, (False, True), ("minor_unverified", "active")
    ):
        member = await make_member(
            db,
            birth_month=month,
            birth_year=year,
            deactivated_at=deactivated,
            deleted_at=deleted,
            parent_id=parent.id if linked else None,
        )
        member.status = status
        members.append(member)
    await db.flush()
    due_sql = set(
        (await db.execute(select(Member.id).where(due_clause(today), Member.id != parent.id)))
        .scalars()
        .all()
    )
    assert due_sql == {m.id for m in members if is_due(m, today)}
    assert len(due_sql) == 6  # not deactivated, not deleted, adult, link or minor status
