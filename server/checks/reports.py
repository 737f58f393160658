"""Check log pages: checks per day and per member (``view_reports``), a member's checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.auth import permissions
from server.auth.guards import page
from server.auth.precedence import refusal
from server.checks import runtime
from server.checks.models import CheckEntry
from server.checks.results import BY_KEY, KEYS
from server.checks.revocations import revocations_of
from server.database import utcnow
from server.members.models import Member
from server.web.forms import parse_id
from server.web.templating import render

DAY_CHOICES = (1, 7, 14, 30, 90, 365)


def _days(request: Request, default: int) -> int:
    """The period a page covers: ``?days=`` if it is one of the choices."""
    days = parse_id(request.query_params.get("days"))
    return days if days in DAY_CHOICES else default


def _day(db: AsyncSession) -> ColumnElement[Any]:
    """The UTC calendar day of a check, on either backend."""
    if db.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", CheckEntry.checked_at), Date)
    return func.date(CheckEntry.checked_at)


async def _recent(db: AsyncSession, *conditions: Any, limit: int) -> list[Any]:
    checker = aliased(Member)
    checked = aliased(Member)
    return list(
        (
            await db.execute(
                select(CheckEntry, checker.sca_name, checked.sca_name)
                .outerjoin(checker, checker.id == CheckEntry.checker_id)
                .outerjoin(checked, checked.id == CheckEntry.member_id)
                .where(*conditions)
                .order_by(CheckEntry.checked_at.desc(), CheckEntry.id.desc())
                .limit(limit)
            )
        ).all()
    )


async def _flush(request: Request) -> None:
    """Write pending check-log entries first (ending this request's read transaction,
    which on SQLite holds the write lock the flush needs)."""
    await request.state.db.commit()
    await runtime.flush_log(request.app)


@page("view_reports")
async def report(request: Request) -> Response:
    db = request.state.db
    await _flush(request)
    days = _days(request, 14)
    since = utcnow() - dt.timedelta(days=days)
    day = _day(db).label("day")
    per_day: dict[str, dict[str, int]] = {}
    for when, result, count in await db.execute(
        select(day, CheckEntry.result, func.count())
        .where(CheckEntry.checked_at >= since)
        .group_by(day, CheckEntry.result)
    ):
        per_day.setdefault(str(when), dict.fromkeys(KEYS, 0))[result] = count
    per_member = (
        await db.execute(
            select(Member.id, Member.sca_name, func.count(), func.max(CheckEntry.checked_at))
            .join(CheckEntry, CheckEntry.member_id == Member.id)
            .where(CheckEntry.checked_at >= since)
            .group_by(Member.id, Member.sca_name)
            .order_by(func.count().desc(), Member.sca_name)
            .limit(100)
        )
    ).all()
    return render(
        request,
        "checks/report.html",
        {
            "days": days,
            "day_choices": DAY_CHOICES,
            "per_day": sorted(per_day.items(), reverse=True),
            "per_member": per_member,
            "recent": await _recent(db, CheckEntry.checked_at >= since, limit=50),
            "results": BY_KEY,
            "keys": KEYS,
        },
    )


REPORT_PERMISSIONS = ("view_reports", "manage_members")


@page(staff=True)
async def member_checks(request: Request) -> Response:
    perms = request.state.perms
    if not set(REPORT_PERMISSIONS) & perms:
        names = " or ".join(
            f"“{perm.label}”" if (perm := permissions.get(key)) else key
            for key in REPORT_PERMISSIONS
        )
        raise HTTPException(403, f"You need the permission {names} for this page.")
    member = await request.state.db.get(Member, request.path_params["member_id"])
    if member is None:
        raise HTTPException(404, "There is no such member.")
    return await member_checks_page(request, member)


async def member_checks_page(
    request: Request,
    member: Member,
    *,
    errors: dict[str, str] | None = None,
    reason: str = "",
    status_code: int = 200,
) -> Response:
    """A member's checks and, for ``manage_members``, the form that revokes their codes
    (only when the viewer may act on the account; ``errors`` are that form's)."""
    db = request.state.db
    perms = request.state.perms
    entries: list[Any] = []
    # A period, not the whole log: the log is indexed by time (see ``CheckEntry``).
    days = _days(request, 90)
    if "view_reports" in perms:
        await _flush(request)
        since = utcnow() - dt.timedelta(days=days)
        entries = await _recent(
            db, CheckEntry.checked_at >= since, CheckEntry.member_id == member.id, limit=200
        )
    protected = await refusal(request, member) if "manage_members" in perms else None
    return render(
        request,
        "checks/member.html",
        {
            "member": member,
            "entries": entries,
            "days": days,
            "day_choices": DAY_CHOICES,
            "revocations": await revocations_of(db, member.id),
            "results": BY_KEY,
            "account_protected": protected,
            "errors": errors or {},
            "reason": reason,
        },
        status_code=status_code,
    )


routes = [
    Route("/checks", report, methods=["GET"]),
    Route("/checks/member/{member_id:int}", member_checks, methods=["GET"]),
]
