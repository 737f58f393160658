"""Age-up: a minor turns 18 on the 1st of the birth month; the parent link ends, audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.members.ageup import age_up_member, age_up_register
from server.members.models import Member
from server.nightly.registry import jobs
from tests.factories import make_member


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
    """The nightly pass updates rows in SQL; loaded objects are not touched."""
    today = dt.date(2026, 6, 1)
    member, _ = await _minor_with_parent(db, 6, 2008, today - dt.timedelta(days=1))
    await db.commit()
    await age_up_register(db, today)
    await db.commit()
    fresh = (await db.execute(select(Member.status).where(Member.id == member.id))).scalar_one()
    assert fresh == "active"


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
