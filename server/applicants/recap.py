"""The weekly new-members recap for the Membership Office (command and Monday nightly job)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from typing import NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server import clock
from server.applicants.models import Applicant, RecapEntry
from server.audit.log import record
from server.cli import command
from server.config import load_settings
from server.database import utcnow
from server.db.engine import make_engine, make_sessionmaker
from server.mail.models import OutboxMessage
from server.mail.outbox import queue_email
from server.member_codes.models import Agreement, Seat
from server.members.models import Branch, Member
from server.nightly.registry import nightly_job
from server.settings.store import load_settings as load_site

TEMPLATE = "weekly_recap"


class RecapLine(NamedTuple):
    """One new member in the recap, with the member code they applied with (if any) and
    the agreement whose seat they took."""

    member: Member
    branch: str
    code: str
    agreement: Agreement | None


class RecapError(RuntimeError):
    pass


async def send_recap(db: AsyncSession) -> int:
    """Queue the recap of members not yet reported; mark their rows sent (kept, not deleted)."""
    site = await load_site(db)
    to = site["membership_office_email"]
    if not to:
        raise RecapError("Set the Membership Office email in the settings first.")
    now = utcnow()
    rows = (
        await db.execute(
            select(RecapEntry.id, Member, Branch.name, Applicant.member_code, Agreement)
            .join(Member, Member.id == RecapEntry.member_id)
            .outerjoin(Branch, Branch.id == Member.branch_id)
            .outerjoin(Applicant, Applicant.id == RecapEntry.applicant_id)
            .outerjoin(Seat, Seat.member_id == Member.id)
            .outerjoin(Agreement, Agreement.id == Seat.agreement_id)
            .where(RecapEntry.sent_at.is_(None))
            .order_by(RecapEntry.created_at, RecapEntry.id)
        )
    ).all()
    last_sent = await db.scalar(select(func.max(RecapEntry.sent_at)))
    queue_email(
        db,
        to=to,
        template=TEMPLATE,
        context={
            "site": site,
            "members": [
                RecapLine(member, branch or "", (code or "").strip(), agreement)
                for _id, member, branch, code, agreement in rows
            ],
            "since": last_sent,
            "now": now,
        },
    )
    ids = [row[0] for row in rows]
    if ids:
        await db.execute(
            update(RecapEntry)
            .where(RecapEntry.id.in_(ids))
            .values(sent_at=now)
            .execution_options(synchronize_session=False)
        )
    record(
        db,
        actor_id=None,
        action="recap.send",
        entity_type="new_member_recap",
        after={"members": len(ids), "to": to},
    )
    return len(ids)


async def _run() -> int:
    engine = make_engine(load_settings().database_url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            return await send_recap(db)
    finally:
        await engine.dispose()


@command("weekly-recap", "Email the Membership Office the members created since the last recap.")
def weekly_recap(args: argparse.Namespace) -> int:
    from server.core_commands import prepare_database

    if not prepare_database(load_settings().database_url):
        return 1
    try:
        count = asyncio.run(_run())
    except RecapError as exc:  # a setting missing, not a usage error (exit 2)
        print(exc)
        return 1
    print(
        f"Queued the weekly recap: {count} new member(s)."
        if count
        else "Queued the weekly recap: no new members this week."
    )
    return 0


@nightly_job("weekly_recap", order=90)
async def weekly_recap_job(db: AsyncSession, today: dt.date) -> str:
    """On Mondays, unless a recap was already queued in the six days before ``today``.

    The week is counted from the run's date, not the machine's clock, so that
    ``nightly --date`` for a later Monday (a missed week caught up, or a test of one)
    sends that week's recap."""
    if today.weekday() != 0:
        return "weekly recap: not Monday"
    week_start = clock.day_start(await load_site(db), today - dt.timedelta(days=6))
    recent = await db.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.kind == TEMPLATE, OutboxMessage.created_at >= week_start)
    )
    if recent:
        return "weekly recap: already sent this week"
    try:
        count = await send_recap(db)
    except RecapError as exc:
        return f"weekly recap: skipped ({exc})"
    return f"weekly recap: {count} new member(s)"
