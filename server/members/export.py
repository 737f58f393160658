"""CSV export of the member list as filtered and sorted on screen (``export_members``).

The columns are what a kingdom's exchequer or seneschal works with — names, contact,
branch, status and membership — and never the private notes or additional info. Every
export is audited (who, when, which filters, how many rows) before the first byte goes
out; a HEAD, answered its headers alone, is not. Rows are streamed from the database in
batches, so a 100,000-member register never sits in memory. Cells that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from server import clock
from server.audit.log import record
from server.auth.guards import page
from server.members.ageup import adult_clause
from server.members.branches import all_branches
from server.members.models import Branch, Member
from server.members.search import MemberSearch, filtered, has_live_link, ordered
from server.members.status import label

PERMISSION = "export_members"
BATCH = 1000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()


def _membership(expires: dt.date | None, today: dt.date) -> str:
    if expires is None:
        return "none"
    return "expired" if expires < today else "current"


Writer = Callable[[Any], str]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def columns(today: dt.date) -> list[tuple[str, Any, Writer]]:
    """(header, selected expression, how its value is written), in the file's order."""
    branch = (
        select(Branch.name).where(Branch.id == Member.branch_id).correlate(Member).scalar_subquery()
    )
    under_18 = case((Member.birth_year.is_(None), ""), (adult_clause(today), "no"), else_="yes")
    return [
        ("Register number", Member.id, _text),
        ("SCA name", Member.sca_name, _text),
        ("First name", Member.first_name, _text),
        ("Middle name", Member.middle_name, _text),
        ("Last name", Member.last_name, _text),
        ("Email", Member.email, _text),
        ("Phone", Member.phone, _text),
        ("Street address", Member.street_address, _text),
        ("City", Member.city, _text),
        ("State", Member.state, _text),
        ("Zip", Member.zip, _text),
        ("Branch", branch, _text),
        ("Status", Member.status, label),
        ("Membership number", Member.membership_number, _text),
        ("Membership expires", Member.membership_expires_on, _date),
        ("Membership", Member.membership_expires_on, lambda v: _membership(v, today)),
        ("Membership verified on", Member.verified_at, _date),
        ("Background check expires", Member.background_check_expires_on, _date),
        ("Under 18", under_18, _text),
        ("Live card link", has_live_link(), lambda v: "yes" if v else "no"),
        ("Member since", Member.created_at, _date),
        ("Last change", Member.modified_at, _date),
    ]


def safe_cell(text: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_line(values: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(v) for v in values])
    return buffer.getvalue()


def export_query(
    criteria: MemberSearch,
    branches: list[Branch],
    today: dt.date,
    chosen: list[tuple[str, Any, Writer]],
) -> Select[Any]:
    """The list's own filters and order, selecting the export's columns."""
    query = filtered(criteria, branches, today).with_only_columns(
        *(expr.label(f"c{i}") for i, (_header, expr, _write) in enumerate(chosen))
    )
    return ordered(query, criteria)


async def stream_rows(
    sessionmaker: async_sessionmaker[AsyncSession],
    query: Select[Any],
    chosen: list[tuple[str, Any, Writer]],
) -> AsyncIterator[str]:
    """The CSV, a batch of rows at a time, read on a session of its own."""
    writers = [write for _header, _expr, write in chosen]
    yield "\ufeff" + csv_line([header for header, _expr, _write in chosen])  # BOM: UTF-8
    async with sessionmaker() as db:
        result = await db.stream(query.execution_options(yield_per=BATCH))
        async for batch in result.partitions(BATCH):
            yield "".join(
                csv_line([write(value) for write, value in zip(writers, row, strict=True)])
                for row in batch
            )


@page(PERMISSION)
async def export_members(request: Request) -> Response:
    db: AsyncSession = request.state.db
    criteria = MemberSearch.from_query(dict(request.query_params))
    branches = await all_branches(db)
    today = clock.today(request.state.site)
    filename = f"members-{today.isoformat()}.csv"
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    }
    if request.method == "HEAD":  # the headers alone: no member leaves, nothing to audit
        return Response(media_type="text/csv; charset=utf-8", headers=headers)
    total = await db.scalar(
        select(func.count()).select_from(filtered(criteria, branches, today).subquery())
    )
    record(
        db,
        actor_id=request.state.user.id,
        action="members.export",
        entity_type="members",
        after={"rows": int(total or 0), "criteria": criteria.describe()},
        note="CSV export of the member list",
    )
    await db.commit()
    chosen = columns(today)
    query = export_query(criteria, branches, today, chosen)
    return StreamingResponse(
        stream_rows(request.app.state.sessionmaker, query, chosen),
        media_type="text/csv; charset=utf-8",
        headers=headers,
    )


routes = [Route("/members.csv", export_members, methods=["GET"])]
