"""``manage.py demo`` fills the Activities plugin: groups, activities, every status, marshals."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from server.demo.command import load_demo
from server.members.models import Member
from server.plugins import registry
from server.plugins.activities.models import STATUS_LABELS, Activity, ActivityGroup, Authorization
from server.plugins.contract import SectionContext


async def test_demo_has_groups_activities_every_status_and_authorizers(database_url, db):
    today = dt.date.today()
    await load_demo(database_url, "http://testserver", today)
    await load_demo(database_url, "http://testserver", today)  # idempotent
    groups = set(await db.scalars(select(ActivityGroup.name)))
    assert {"Armored Combat", "Rapier", "Youth Combat", "Equestrian", "Archery"} <= groups
    limits = (
        await db.execute(select(Activity.term_months, Activity.minimum_age, Activity.maximum_age))
    ).all()
    assert any(t is None for t, _, _ in limits) and any(lo and hi for _, lo, hi in limits)
    statuses = set(await db.scalars(select(Authorization.status)))
    assert statuses == set(STATUS_LABELS)
    assert await db.scalar(select(func.count()).select_from(Authorization)) == 11
    marshal = await db.scalar(select(Member).where(Member.email_key == "marshal0@example.org"))
    sections = await registry.collect_sections(db, marshal, SectionContext.MOBILE_CARD, today)
    may = next(s for s in sections if s.key == "may_authorize")
    assert "Weapon and Shield" in [r.label for r in may.rows]
    fighter = await db.scalar(select(Member).where(Member.email_key == "fighter@example.org"))
    sections = await registry.collect_sections(db, fighter, SectionContext.AUTH_CARD, today)
    held = next(s for s in sections if s.key == "authorizations")
    assert [r.label for r in held.rows] == ["Target Archery", "Spear", "Weapon and Shield"]
