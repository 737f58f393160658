"""A plugin that uses every hook of the contract, so tests can prove each one end to end.

Badges are a tiny model of its own: a member's badges show as a card section, staff
holding ``dummy_manage`` list them at ``/dummy/badges`` (with the ``dummy_greeting``
setting), a nightly job retires badges past their date, and the demo hook hands the
first demo member a badge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.auth.guards import page
from server.auth.permissions import Permission
from server.demo.registry import DemoData
from server.members.models import Member
from server.nightly.registry import NightlyJob
from server.plugins.contract import Plugin, Row, Section, SectionContext
from server.settings.registry import SettingDef
from server.settings.store import get_setting
from server.web.navigation import NavLink
from tests.dummy_plugin.models import DummyBadge


async def badge_sections(
    db: AsyncSession, member: Member, context: SectionContext, today: dt.date
) -> Sequence[Section]:
    badges = (
        await db.scalars(
            select(DummyBadge)
            .where(DummyBadge.member_id == member.id, DummyBadge.retired.is_(False))
            .order_by(DummyBadge.name)
        )
    ).all()
    return [_section([b.name for b in badges], context)]


def _section(names: Sequence[str], context: SectionContext) -> Section:
    rows = tuple(Row(name, f"shown on {context.value}", note="dummy badge") for name in names)
    return Section("dummy_badges", "Dummy badges", order=50, rows=rows)


async def badge_sections_many(
    db: AsyncSession, members: Sequence[Member], context: SectionContext, today: dt.date
) -> Mapping[int, Sequence[Section]]:
    names: dict[int, list[str]] = {m.id: [] for m in members}
    rows = await db.execute(
        select(DummyBadge.member_id, DummyBadge.name)
        .where(DummyBadge.member_id.in_(names), DummyBadge.retired.is_(False))
        .order_by(DummyBadge.name)
    )
    for member_id, name in rows:
        names[member_id].append(name)
    return {member_id: [_section(found, context)] for member_id, found in names.items()}


@page("dummy_manage")
async def badge_list(request: Request) -> Response:
    db: AsyncSession = request.state.db
    badges = (await db.scalars(select(DummyBadge).order_by(DummyBadge.id))).all()
    greeting = await get_setting(db, "dummy_greeting")
    return JSONResponse({"greeting": greeting, "badges": [b.name for b in badges]})


async def retire_old_badges(db: AsyncSession, today: dt.date) -> str:
    result = await db.execute(
        update(DummyBadge)
        .where(DummyBadge.retired.is_(False), DummyBadge.until < today)
        .values(retired=True)
    )
    return f"{result.rowcount} badges retired"  # type: ignore[attr-defined]


async def demo_badge(db: AsyncSession, demo: DemoData) -> None:
    for member in demo.members.values():
        db.add(DummyBadge(member_id=member.id, name="Demo badge", until=demo.today))
        await db.flush()
        return


plugin = Plugin(
    key="dummy",
    name="Dummy (test plugin)",
    sections=badge_sections,
    bulk_sections=badge_sections_many,
    routes=[Route("/dummy/badges", badge_list)],
    nav_links=[NavLink("Dummy badges", "/dummy/badges", permission="dummy_manage")],
    settings=[SettingDef("dummy_greeting", "text", "Hello from the dummy", "Dummy greeting")],
    permissions=[Permission("dummy_manage", "Manage dummy badges")],
    model_modules=["tests.dummy_plugin.models"],
    migrations=Path(__file__).resolve().parent / "migrations",
    nightly_jobs=[NightlyJob("retire_badges", 50, retire_old_badges)],
    demo=demo_badge,
)
