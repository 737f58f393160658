"""Agreements admin: list, create, edit, extend the end date (``manage_members``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.audit.log import snapshot
from server.auth.guards import page
from server.db.transactions import lock_for_write
from server.member_codes import agreements, holders
from server.member_codes.models import Agreement
from server.member_codes.validation import grace_days, seats_remaining
from server.members.models import Branch
from server.web import navigation
from server.web.forms import FormReader, parse_id
from server.web.navigation import NavLink
from server.web.seen import STALE, fingerprint, stale
from server.web.templating import flash, render

PERMISSION = "manage_members"


async def branch_options(db: Any) -> list[tuple[int, str]]:
    rows = (await db.execute(select(Branch.id, Branch.name).order_by(Branch.name))).all()
    return [(row.id, row.name) for row in rows]


def _text(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


async def _load(request: Request) -> Agreement:
    agreement_id = parse_id(request.path_params.get("agreement_id"))
    db: AsyncSession = request.state.db
    agreement = None if agreement_id is None else await db.get(Agreement, agreement_id)
    if agreement is None:
        raise HTTPException(404, "There is no such agreement.")
    return agreement


@page(PERMISSION)
async def agreement_list(request: Request) -> Response:
    db = request.state.db
    grace = await grace_days(db)
    rows = await agreements.list_agreements(db, clock.today(request.state.site), grace)
    return render(request, "member_codes/list.html", {"rows": rows, "grace": grace})


async def _form_page(
    request: Request,
    agreement: Agreement | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int | None = None,
) -> Response:
    db = request.state.db
    context = {
        "agreement": agreement,
        "values": values,
        "errors": errors,
        "branches": await branch_options(db),
        "remaining": None if agreement is None else await seats_remaining(db, agreement),
        "holders": [] if agreement is None else await holders.seat_holders(db, agreement),
        "pending": [] if agreement is None else await holders.pending_applicants(db, agreement),
        "seen": "" if agreement is None else fingerprint(snapshot(agreement, agreements.EDITABLE)),
    }
    status = status or (400 if errors else 200)
    return render(request, "member_codes/form.html", context, status_code=status)


@page(PERMISSION)
async def agreement_new(request: Request) -> Response:
    db = request.state.db
    if request.method != "POST":
        return await _form_page(request, None, {}, {})
    form = FormReader(await request.form())
    values = await agreements.read_agreement_form(db, form, None)
    if not form.ok:
        return await _form_page(request, None, dict(form.form), form.errors)
    agreement = await agreements.create_agreement(db, values, request.state.user.id)
    await db.commit()
    flash(request, f"Agreement {agreement.code} for {agreement.organisation} created.")
    return RedirectResponse("/member-codes", status_code=303)


@page(PERMISSION)
async def agreement_edit(request: Request) -> Response:
    db = request.state.db
    agreement = await _load(request)
    if request.method != "POST":
        shown = {name: _text(getattr(agreement, name)) for name in agreements.EDITABLE}
        return await _form_page(request, agreement, shown, {})
    form = FormReader(await request.form())
    await lock_for_write(db)  # two saves at once: the second sees the first
    await db.refresh(agreement, with_for_update=True)
    if stale(form.raw("seen"), snapshot(agreement, agreements.EDITABLE)):
        shown = {name: _text(getattr(agreement, name)) for name in agreements.EDITABLE}
        return await _form_page(request, agreement, shown, {"form": STALE}, status=409)
    values = await agreements.read_agreement_form(db, form, agreement)
    if not form.ok:
        return await _form_page(request, agreement, dict(form.form), form.errors)
    changed = await agreements.update_agreement(db, agreement, values, request.state.user.id)
    await db.commit()
    flash(request, "Agreement saved." if changed else "Nothing changed.")
    return RedirectResponse("/member-codes", status_code=303)


@page(PERMISSION)
async def agreement_extend(request: Request) -> Response:
    db = request.state.db
    agreement = await _load(request)
    back = f"/member-codes/{agreement.id}"
    form = FormReader(await request.form())
    new_end = form.date("ends_on", "New end date", required=True)
    if new_end is None:
        flash(request, " ".join(form.errors.values()), "error")
        return RedirectResponse(back, status_code=303)
    try:
        await agreements.extend_agreement(db, agreement, new_end, request.state.user.id)
    except agreements.ExtendRefused as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(back, status_code=303)
    await db.commit()
    flash(request, f"Agreement {agreement.code} now ends on {new_end.isoformat()}.")
    return RedirectResponse("/member-codes", status_code=303)


routes = [
    Route("/member-codes", agreement_list, methods=["GET"]),
    Route("/member-codes/new", agreement_new, methods=["GET", "POST"]),
    Route("/member-codes/{agreement_id}", agreement_edit, methods=["GET", "POST"]),
    Route("/member-codes/{agreement_id}/extend", agreement_extend, methods=["POST"]),
]

# The admin menu's links to this area's pages (``create_app`` adds them).
nav_links = [
    NavLink(
        "Member codes",
        "/member-codes",
        permission=PERMISSION,
        order=41,
        group=navigation.REGISTER,
    ),
]
