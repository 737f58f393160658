"""``manage.py issue-card EMAIL`` and ``manage.py issue-cards [--branch …]``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from sqlalchemy import or_, select

from server import clock
from server.cards.bulk import BulkRunBusy, Selection, issue_selection
from server.cards.issuing import MailContext
from server.cards.service import CardRefused, issue_link
from server.cli import argument, command
from server.config import Settings, load_settings
from server.core_commands import prepare_database
from server.db.engine import make_engine, make_sessionmaker
from server.members.models import Branch, Member
from server.members.status import BY_KEY
from server.settings.store import load_settings as load_site


async def _issue_one(settings: Settings, email: str) -> tuple[int, str]:
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            member = (
                await db.execute(select(Member).where(Member.email_key == email.strip().lower()))
            ).scalar_one_or_none()
            if member is None:
                return 1, f"No member with the email {email}."
            try:
                today = clock.today(await load_site(db))
                issued = await issue_link(db, member, None, MailContext.of(settings), today)
            except CardRefused as exc:
                return 1, str(exc)
            await db.commit()
            return 0, (
                f"Issued a new card link to {member.display_name}; the email to "
                f"{', '.join(issued.recipients)} is in the outbox "
                f"(`python manage.py send-mail` or the running server delivers it)."
            )
    finally:
        await engine.dispose()


@command("issue-card", "Issue a new card link to one member (by email) and queue the email.")
@argument("email", help="The member's email address.")
def issue_card(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not prepare_database(settings.database_url):
        return 1
    code, message = asyncio.run(_issue_one(settings, args.email))
    print(message, file=sys.stderr if code else sys.stdout)
    return code


def progress_bar(done: int, total: int, started: float, width: int = 30) -> None:
    filled = int(width * done / total) if total else width
    rate = done / max(time.monotonic() - started, 1e-6)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({rate:,.0f}/s)")
    sys.stderr.flush()


async def _find_branch(settings: Settings, name: str) -> int | None:
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            clause = Branch.name == name
            if name.isdigit():
                clause = or_(clause, Branch.id == int(name))
            return (await db.execute(select(Branch.id).where(clause))).scalars().first()
    finally:
        await engine.dispose()


async def _issue_many(settings: Settings, selection: Selection) -> tuple[int, int]:
    engine = make_engine(settings.database_url)
    started = time.monotonic()
    try:
        return await issue_selection(
            make_sessionmaker(engine),
            selection,
            actor_id=None,
            mail=MailContext.of(settings),
            progress=lambda done, total: progress_bar(done, total, started),
        )
    finally:
        await engine.dispose()


@command("issue-cards", "Issue card links in bulk (members without a live link, by default).")
@argument("--branch", help="Branch name or id; its sub-branches are included.")
@argument("--status", action="append", default=[], help="Only this status (repeatable).")
@argument("--replace", action="store_true", help="Also replace links that are still live.")
def issue_cards(args: argparse.Namespace) -> int:
    settings = load_settings()
    bad = [s for s in args.status if s not in BY_KEY]
    if bad:
        print(f"Unknown status {bad[0]!r}; choose from {', '.join(BY_KEY)}.", file=sys.stderr)
        return 2
    if not prepare_database(settings.database_url):
        return 1
    branch_id = None
    if args.branch:
        branch_id = asyncio.run(_find_branch(settings, args.branch))
        if branch_id is None:
            print(f"No branch called {args.branch!r}.", file=sys.stderr)
            return 2
    started = time.monotonic()
    try:
        issued, skipped = asyncio.run(
            _issue_many(settings, Selection(branch_id, tuple(args.status), args.replace))
        )
    except BulkRunBusy as busy:
        print(busy, file=sys.stderr)
        return 1
    sys.stderr.write("\n")
    print(
        f"Issued {issued} card links in {time.monotonic() - started:.1f} s"
        f"{f'; skipped {skipped} deactivated members' if skipped else ''}. "
        "The emails are in the outbox."
    )
    return 0
