"""Create member (brief §3): one transaction, every step or none."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text

from server.applicants import creation
from server.applicants.models import Applicant, RecapEntry
from server.audit.models import AuditEntry
from server.mail.models import OutboxMessage
from server.member_codes.models import Seat
from server.members.models import Member
from tests.applicant_fixtures import TODAY, make_agreement, make_applicant, outbox
from tests.factories import csrf_from, login, make_branch, make_staff


async def _manager(db, client):
    admin = await make_staff(db, ["manage_members"])
    await db.commit()
    await login(client, admin.email)
    return admin


async def _create(client, applicant, version=None):
    token = await csrf_from(client, f"/applicants/{applicant.id}")
    return await client.post(
        f"/applicants/{applicant.id}/create-member",
        data={"csrf_token": token, "version": applicant.version if version is None else version},
    )


async def _counts(db) -> dict[str, int]:
    counts = {}
    for model in (Member, Seat, RecapEntry, OutboxMessage, AuditEntry):
        counts[model.__name__] = await db.scalar(select(func.count()).select_from(model))
    counts["linked"] = await db.scalar(
        select(func.count()).select_from(Applicant).where(Applicant.member_id.is_not(None))
    )
    await db.commit()
    return counts


async def test_create_member_does_every_step(client, db):
    admin = await _manager(db, client)
    branch = await make_branch(db)
    agreement = await make_agreement(db, "ACME", seats=1)
    applicant = await make_applicant(
        db, branch_id=branch.id, member_code="acme", phone="555 0100", city="Townsville"
    )
    await db.commit()
    response = await _create(client, applicant)
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "Member Aelfric of Testing created" in page.text
    member = (
        await db.execute(select(Member).where(Member.email_key == "alfred@example.org"))
    ).scalar_one()
    assert member.status == "active" and member.created_by_id == admin.id
    assert (member.branch_id, member.phone, member.city) == (branch.id, "555 0100", "Townsville")
    seat = (await db.execute(select(Seat))).scalar_one()
    assert (seat.agreement_id, seat.member_id) == (agreement.id, member.id)
    await db.refresh(applicant)
    assert applicant.member_id == member.id and applicant.member_created_by_id == admin.id
    assert applicant.email == "" and applicant.sca_name == "" and applicant.phone == ""
    assert applicant.birth_year is None and applicant.member_code == "acme"
    recap = (await db.execute(select(RecapEntry))).scalar_one()
    assert recap.member_id == member.id and recap.sent_at is None
    [mail] = await outbox(db, "member_created_adult")
    assert mail.to_addr == "alfred@example.org" and "/password-reset" in mail.body_text
    assert "Your status is now: Active." in mail.body_text
    # The seat is taken: the code now has none remaining (0), shown on the list.
    assert "member created" in (await client.get("/applicants?created=1")).text


async def test_minor_gets_the_parent_step_email(client, db):
    await _manager(db, client)
    applicant = await make_applicant(db, birth_year=TODAY.year - 12)
    await db.commit()
    await _create(client, applicant)
    member = (
        await db.execute(select(Member).where(Member.email_key == "alfred@example.org"))
    ).scalar_one()
    assert member.status == "minor_unverified"
    [mail] = await outbox(db, "member_created_minor")
    assert "under 18" in mail.body_text and "parent or guardian is linked" in mail.body_text
    assert await outbox(db, "member_created_adult") == []


async def test_second_submission_and_stale_page_change_nothing(client, db):
    await _manager(db, client)
    applicant = await make_applicant(db)
    await db.commit()
    old_version = applicant.version
    await _create(client, applicant, version=old_version)
    before = await _counts(db)
    response = await _create(client, applicant, version=old_version)  # double click
    page = await client.get(response.headers["location"])
    assert "already created from this applicant; nothing changed" in page.text
    assert await _counts(db) == before
    other = await make_applicant(db, email="other@example.org")
    await db.commit()
    response = await _create(client, other, version=other.version + 5)
    page = await client.get(response.headers["location"])
    assert "changed by someone else — reload" in page.text
    assert await _counts(db) == before


async def test_forged_requests_are_refused(client, db):
    staff = await make_staff(db, ["verify_members"])
    applicant = await make_applicant(db)
    await db.commit()
    before = await _counts(db)
    # No CSRF token at all.
    response = await client.post(f"/applicants/{applicant.id}/create-member", data={"version": 1})
    assert response.status_code == 403
    # Logged in, but without manage_members.
    await login(client, staff.email)
    token = await csrf_from(client, "/login")
    response = await client.post(
        f"/applicants/{applicant.id}/create-member", data={"csrf_token": token, "version": 1}
    )
    assert response.status_code == 403
    assert await _counts(db) == before


async def test_blocked_applicant_is_refused_on_the_server(client, db):
    await _manager(db, client)
    applicant = await make_applicant(db, birth_month=None, terms_accepted_at=None)
    await db.commit()
    before = await _counts(db)
    response = await _create(client, applicant)
    page = await client.get(response.headers["location"])
    assert "cannot be created yet" in page.text and "birth month and year are missing" in page.text
    assert await _counts(db) == before


@pytest.mark.parametrize("fail_after", [name for name, _step in creation.STEPS])
async def test_a_failure_after_any_step_leaves_the_database_unchanged(
    client, db, monkeypatch, fail_after
):
    await _manager(db, client)
    await make_agreement(db, "ACME")
    applicant = await make_applicant(db, member_code="ACME")
    await db.commit()
    before = await _counts(db)

    async def explode(c):
        raise RuntimeError(f"injected failure after {fail_after}")

    steps = []
    for name, step in creation.STEPS:
        steps.append((name, step))
        if name == fail_after:
            steps.append(("explode", explode))
    monkeypatch.setattr(creation, "STEPS", tuple(steps))
    with pytest.raises(RuntimeError, match="injected failure"):
        await _create(client, applicant)
    assert await _counts(db) == before
    await db.refresh(applicant)
    assert applicant.email == "alfred@example.org" and applicant.member_id is None


@pytest.mark.postgres_only
async def test_two_admins_creating_at_once_make_one_member(app, db):
    admin = await make_staff(db, ["manage_members"])
    applicant = await make_applicant(db)
    await db.commit()
    maker = app.state.sessionmaker
    site = {"site_title": "Tessera", "membership_office_email": ""}

    async def create(session):
        actor = await session.get(Member, admin.id)
        return await creation.create_member(
            session, applicant.id, 1, actor, TODAY, site=site, base_url="http://x"
        )

    async with maker() as first, maker() as second, maker() as observer:
        await create(first)  # holds the applicant's row lock until commit
        waiting = asyncio.create_task(create(second))
        async with asyncio.timeout(10):
            while not waiting.done() and not await observer.scalar(
                text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            ):
                await observer.rollback()
                await asyncio.sleep(0.01)
        assert not waiting.done(), "the second admin did not wait for the first"
        await first.commit()
        with pytest.raises(creation.CreationRefused, match="already created"):
            await waiting
        await second.rollback()
    count = await db.scalar(
        select(func.count()).select_from(Member).where(Member.email_key == "alfred@example.org")
    )
    assert count == 1
    assert await db.scalar(select(func.count()).select_from(RecapEntry)) == 1
