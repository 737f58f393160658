"""Applicant review for the Membership Office: list with filters, detail, Create member, Decline."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.applicants import decline, review
from server.applicants.creation import CreationRefused, create_member
from server.applicants.models import Applicant
from server.auth.guards import page
from server.members.models import Branch, Member
from server.web import navigation
from server.web.forms import FormReader, parse_id
from server.web.navigation import NavLink
from server.web.templating import flash, render

PERMISSION = "manage_members"
PAGE_SIZE = 50


@page(PERMISSION)
async def applicant_list(request: Request) -> Response:
    db = request.state.db
    params = request.query_params
    active = [key for key in review.FILTERS if params.get(key) == "1"]
    if not params:
        active = ["pending"]
    page_no = max(1, min(parse_id(params.get("page")) or 1, 10_000))
    query = await review.applicant_query(db, active, clock.today(request.state.site))
    total = await db.scalar(select(func.count()).select_from(query.subquery()))
    applicants = (
        (await db.execute(query.limit(PAGE_SIZE).offset((page_no - 1) * PAGE_SIZE))).scalars().all()
    )
    branches = {row.id: row.name for row in await db.execute(select(Branch.id, Branch.name))}
    return render(
        request,
        "applicants/list.html",
        {
            "applicants": applicants,
            "filters": review.FILTERS,
            "active": active,
            "total": total,
            "page_no": page_no,
            "more": page_no * PAGE_SIZE < (total or 0),
            "branches": branches,
            "query": "&".join(["f=1", *(f"{key}=1" for key in active)]),
        },
    )


async def _load(request: Request) -> Applicant:
    applicant_id = parse_id(request.path_params.get("applicant_id"))
    db: AsyncSession = request.state.db
    applicant = None if applicant_id is None else await db.get(Applicant, applicant_id)
    if applicant is None:
        raise HTTPException(404, "There is no such applicant.")
    return applicant


async def _detail_page(
    request: Request,
    applicant: Applicant,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    db = request.state.db
    branch = None if applicant.branch_id is None else await db.get(Branch, applicant.branch_id)
    member = None if applicant.member_id is None else await db.get(Member, applicant.member_id)
    decliner = (
        None if applicant.declined_by_id is None else await db.get(Member, applicant.declined_by_id)
    )
    return render(
        request,
        "applicants/detail.html",
        {
            "applicant": applicant,
            "branch": branch,
            "member": member,
            "decliner": decliner,
            "duplicates": await review.possible_duplicates(db, applicant)
            if applicant.member_id is None
            else [],
            "blockers": await review.blocking_reasons(db, applicant),
            "info": await review.agreement_info(db, applicant, clock.today(request.state.site)),
            "decline_reasons": list(decline.REASONS.items()),
            "errors": errors or {},
            "values": values or {},
        },
        status_code=status_code,
    )


@page(PERMISSION)
async def applicant_detail(request: Request) -> Response:
    return await _detail_page(request, await _load(request))


@page(PERMISSION)
async def applicant_create_member(request: Request) -> Response:
    db = request.state.db
    applicant_id = parse_id(request.path_params.get("applicant_id"))
    form = FormReader(await request.form())
    version = form.integer("version", "Version", required=True, minimum=1)
    back = f"/applicants/{applicant_id}"
    if applicant_id is None:
        raise HTTPException(404, "There is no such applicant.")
    if version is None:
        flash(request, "The form is incomplete — reload the page and try again.", "error")
        return RedirectResponse(back, status_code=303)
    try:
        member = await create_member(
            db,
            applicant_id,
            version,
            request.state.user,
            clock.today(request.state.site),
            site=request.state.site,
            base_url=request.app.state.settings.base_url,
        )
        await db.commit()
    except CreationRefused as exc:
        await db.rollback()
        flash(request, exc.message, "error")
        return RedirectResponse(back, status_code=303)
    flash(request, f"Member {member.display_name} created; the confirmation email is queued.")
    return RedirectResponse(back, status_code=303)


@page(PERMISSION)
async def applicant_decline(request: Request) -> Response:
    """Decline with a reason; the same permission as Create member, re-checked here."""
    db = request.state.db
    applicant = await _load(request)
    back = f"/applicants/{applicant.id}"
    form = FormReader(await request.form())
    version = form.integer("version", "Version", required=True, minimum=1)
    if version is None:
        flash(request, "The form is incomplete — reload the page and try again.", "error")
        return RedirectResponse(back, status_code=303)
    reason = decline.read_reason(form)
    problem = decline.refusal(applicant, version)
    if problem:
        flash(request, problem, "error")
        return RedirectResponse(back, status_code=303)
    if not form.ok:
        values = {name: form.raw(name) for name in ("reason_kind", "reason_details")}
        return await _detail_page(
            request, applicant, errors=form.errors, values=values, status_code=400
        )
    try:
        await decline.decline_applicant(db, applicant.id, version, request.state.user, reason)
        await db.commit()
    except decline.DeclineRefused as exc:
        await db.rollback()
        flash(request, exc.message, "error")
        return RedirectResponse(back, status_code=303)
    flash(request, "The applicant was declined. No email was sent to them.")
    return RedirectResponse(back, status_code=303)


routes = [
    Route("/applicants", applicant_list, methods=["GET"]),
    Route("/applicants/{applicant_id}", applicant_detail, methods=["GET"]),
    Route("/applicants/{applicant_id}/create-member", applicant_create_member, methods=["POST"]),
    Route("/applicants/{applicant_id}/decline", applicant_decline, methods=["POST"]),
]


async def pending_applicants(
    db: AsyncSession, user: Member, perms: frozenset[str], today: dt.date
) -> int:
    """Applicants waiting for review (the dashboard's count behind the link)."""
    count = await db.scalar(
        select(func.count())
        .select_from(Applicant)
        .where(Applicant.member_id.is_(None), Applicant.declined_at.is_(None))
    )
    return int(count or 0)


# The admin menu's links to this area's pages (``create_app`` adds them).
nav_links = [
    NavLink(
        "Applicants",
        "/applicants",
        permission=PERMISSION,
        order=30,
        group=navigation.REGISTER,
        waiting=pending_applicants,
        waiting_label="applicants to review",
        waiting_label_one="applicant to review",
    ),
]
