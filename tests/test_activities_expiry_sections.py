"""Nightly expiry (set-based) and the two card sections."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from server.audit.models import AuditEntry
from server.mail.models import OutboxMessage
from server.nightly.registry import jobs
from server.plugins import registry
from server.plugins.activities.models import APPROVED, EXPIRED, PENDING, REVOKED, Authorization
from server.plugins.contract import Row, SectionContext
from tests.activities_fixtures import make_activity, make_authorization
from tests.factories import make_member, make_staff
from tests.plugin_fixtures import set_enabled

TODAY = dt.date.today()
YESTERDAY = TODAY - dt.timedelta(days=1)


async def test_nightly_expiry_expires_only_what_ran_out_and_tells_the_member(db):
    activity = await make_activity(db, name="Armored Combat")
    member = await make_member(db, sca_name="Aelfric")
    ran_out = await make_authorization(db, member, activity, expires_on=YESTERDAY)
    other = await make_activity(db, name="Rapier")
    today_last = await make_authorization(db, member, other, expires_on=TODAY)
    third = await make_activity(db, name="Archery")
    forever = await make_authorization(db, member, third, expires_on=None)
    fourth = await make_activity(db, name="Lance")
    old_revoked = await make_authorization(db, member, fourth, status=REVOKED, expires_on=YESTERDAY)
    await db.commit()
    job = next(j for j in jobs() if j.name == "activities.expire_authorizations")
    assert await job.run(db, TODAY) == "1 authorizations expired"
    await db.commit()
    statuses = {
        a.id: a.status
        for a in await db.scalars(select(Authorization).execution_options(populate_existing=True))
    }
    assert statuses == {
        ran_out.id: EXPIRED,
        today_last.id: APPROVED,
        forever.id: APPROVED,
        old_revoked.id: REVOKED,
    }
    audit = (
        await db.scalars(select(AuditEntry).where(AuditEntry.action == "authorization.expired"))
    ).all()
    assert [(a.entity_id, a.member_id) for a in audit] == [(ran_out.id, member.id)]
    assert (audit[0].before, audit[0].after) == ({"status": "approved"}, {"status": "expired"})
    mail = (await db.scalars(select(OutboxMessage))).all()
    assert [(m.to_addr, m.subject) for m in mail] == [
        (member.email, "Your authorization for Armored Combat has expired")
    ]
    assert (
        f"Hello Aelfric,\n\nYour authorization for Armored Combat expired on {YESTERDAY.isoformat()}."
        in mail[0].body_text
    )
    assert await job.run(db, TODAY) == "0 authorizations expired"


async def test_nightly_expiry_is_skipped_while_the_plugin_is_off(db):
    member = await make_member(db)
    auth = await make_authorization(db, member, await make_activity(db), expires_on=YESTERDAY)
    await db.commit()
    await set_enabled(db, "activities", False)
    job = next(j for j in jobs() if j.name == "activities.expire_authorizations")
    assert await job.run(db, TODAY) == "skipped (plugin disabled)"
    await db.refresh(auth)
    assert auth.status == APPROVED


async def test_authorizations_section_groups_sorts_and_shows_expiry(db):
    member = await make_member(db)
    until = TODAY + dt.timedelta(days=300)
    rapier = await make_activity(db, "Rapier", "Single Rapier")
    melee = await make_activity(db, "Rapier", "Melee")
    weapon = await make_activity(db, "Armored Combat", "Weapon and Shield")
    archery = await make_activity(db, "Archery", "Target Archery")
    await make_authorization(db, member, rapier, expires_on=until)
    await make_authorization(db, member, melee, expires_on=None)
    await make_authorization(db, member, weapon, expires_on=TODAY)
    await make_authorization(
        db, member, archery, expires_on=YESTERDAY
    )  # not yet expired by the job
    pending = await make_activity(db, "Equestrian", "Mounted Games")
    await make_authorization(db, member, pending, status=PENDING)
    await db.commit()
    for context in SectionContext:
        sections = await registry.collect_sections(db, member, context, TODAY)
        assert [s.key for s in sections] == ["authorizations"]  # May authorize: none, hidden
        assert sections[0].rows == (
            Row(
                "Weapon and Shield",
                "Authorized",
                f"expires {TODAY.isoformat()}",
                "Armored Combat",
                "ok",
                TODAY,
            ),
            Row("Melee", "Authorized", "no expiry", "Rapier", "ok"),
            Row(
                "Single Rapier", "Authorized", f"expires {until.isoformat()}", "Rapier", "ok", until
            ),
        )
    assert [g for g, _ in sections[0].grouped()] == ["Armored Combat", "Rapier"]


async def test_empty_authorizations_say_so_and_may_authorize_lists_permitted_activities(db):
    marshal = await make_staff(db, ["authorize_rapier", "authorize_archery"])
    await make_activity(db, "Rapier", "Single Rapier", authorize_permission="authorize_rapier")
    await make_activity(db, "Archery", "Target Archery", authorize_permission="authorize_archery")
    await make_activity(db, "Armored Combat", "Weapon and Shield")
    await make_activity(
        db, "Archery", "Old Thing", authorize_permission="authorize_archery", is_active=False
    )
    await db.commit()
    sections = await registry.collect_sections(db, marshal, SectionContext.CHECK_PAGE, TODAY)
    assert [(s.key, s.empty_text) for s in sections] == [
        ("authorizations", "No current authorizations."),
        ("may_authorize", ""),
    ]
    assert [(r.group, r.label) for r in sections[1].rows] == [
        ("Archery", "Target Archery"),
        ("Rapier", "Single Rapier"),
    ]
    await set_enabled(db, "activities", False)
    assert await registry.collect_sections(db, marshal, SectionContext.CHECK_PAGE, TODAY) == []


async def test_batch_sections_agree_with_one_member_sections(db):
    rapier = await make_activity(
        db, "Rapier", "Single Rapier", authorize_permission="authorize_rapier"
    )
    archery = await make_activity(
        db, "Archery", "Target Archery", authorize_permission="authorize_archery"
    )
    marshal = await make_staff(db, ["authorize_rapier"])
    lapsed = await make_staff(db, ["authorize_archery"], membership_expires_on=YESTERDAY)
    chair = await make_staff(db, [], is_superuser=True)
    plain = await make_member(db)
    await make_authorization(db, plain, rapier, expires_on=TODAY)
    await make_authorization(db, marshal, archery, expires_on=None)
    await make_authorization(db, lapsed, rapier, expires_on=YESTERDAY)
    await db.commit()
    members = [marshal, lapsed, chair, plain]
    many = await registry.collect_sections_many(db, members, SectionContext.AUTH_CARD, TODAY)
    for member in members:
        assert many[member.id] == await registry.collect_sections(
            db, member, SectionContext.AUTH_CARD, TODAY
        )
    assert [s.key for s in many[lapsed.id]] == ["authorizations"]  # expired membership
    assert len(next(s for s in many[chair.id] if s.key == "may_authorize").rows) == 2
