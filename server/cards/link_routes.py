"""Pages that issue and revoke card links: per member (admins), /me (self and
parents of minors), and bulk issuing with a progress view."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.auth.guards import page
from server.auth.precedence import refusal, require_may_act
from server.cards.bulk import BulkRunBusy, claim_run, job_holder, job_state, run_job
from server.cards.issuing import MailContext
from server.cards.models import CardIssueJob
from server.cards.service import (
    CardRefused,
    issue_link,
    link_history,
    live_link,
    revoke_link,
)
from server.mail.standing import standing_for
from server.members.confirm import (
    REASON_MISSING,
    REPLACE,
    REVOKE,
    changed_meanwhile,
    confirmation_page,
)
from server.members.locks import lock_members
from server.members.models import Branch, Member
from server.members.status import STATUSES, is_adult
from server.web import navigation
from server.web.forms import FormReader, parse_id
from server.web.navigation import NavLink
from server.web.templating import flash, render

# The admin menu's links to this area's pages (``create_app`` adds them).
nav_links = [
    NavLink(
        "Card links",
        "/cards/bulk",
        permission="issue_card_links",
        order=40,
        group=navigation.REGISTER,
    ),
]

# Bulk jobs running in this process (kept referenced until they finish).
_RUNNING: set[asyncio.Task[None]] = set()


def mail_context(request: Request) -> MailContext:
    return MailContext.of(request.app.state.settings)


async def _member(request: Request, value: str | None, *, lock: bool = False) -> Member:
    """The member of the address; ``lock``: for a change to their card links, their row
    locked first (``lock_members``), so two at once act one after the other."""
    member_id = parse_id(value)
    db: AsyncSession = request.state.db
    if member_id is not None and lock:
        await lock_members(db, [member_id])
    member = None if member_id is None else await db.get(Member, member_id)
    if member is None or member.is_deleted:
        raise HTTPException(404, "There is no such member.")
    return member


def _sent_message(member: Member, recipients: list[str]) -> str:
    return (
        f"A new card link for {member.display_name} is on its way to {' and '.join(recipients)}. "
        "Any earlier link no longer works."
    )


@page("issue_card_links")
async def member_card_links(request: Request) -> Response:
    member = await _member(request, request.path_params["member_id"])
    history = await link_history(request.state.db, member.id)
    return render(
        request,
        "cards/member_links.html",
        {
            "member": member,
            "links": history,
            "account_protected": await refusal(request, member),
        },
    )


@page("issue_card_links")
async def member_issue(request: Request) -> Response:
    member = await _member(request, request.path_params["member_id"], lock=True)
    await require_may_act(request, member)
    if await live_link(request.state.db, member.id) is not None:
        # A new link revokes the live one (the card on the member's phone stops): only
        # through the confirmation page, with a reason — also when this form was stale
        # (another officer issued a link since it was shown).
        return await confirmation_page(request, REPLACE, member, status_code=409)
    return await _issue(request, member)


@page("issue_card_links")
async def member_replace(request: Request) -> Response:
    """Replace the live link (the card on the member's phone stops working): the
    confirmation page's form, with the reason kept on the revoked link."""
    db = request.state.db
    member = await _member(request, request.path_params["member_id"], lock=True)
    await require_may_act(request, member)
    form = FormReader(await request.form())
    reason = form.text("reason", "Reason", max_length=300)
    if await changed_meanwhile(request, REPLACE, member, form.raw("subject")):
        return _already_changed(request, member)
    if not reason or await live_link(db, member.id) is None:
        # Without a reason, or with nothing left to replace, the page says what to do.
        return await confirmation_page(
            request, REPLACE, member, error=REASON_MISSING, reason=reason, status_code=400
        )
    try:
        await revoke_link(db, member, request.state.user, reason, clock.today(request.state.site))
    except CardRefused as exc:
        await db.rollback()
        flash(request, str(exc), "error")
        return RedirectResponse(f"/members/{member.id}/card-links", status_code=303)
    return await _issue(request, member)


def _already_changed(request: Request, member: Member) -> Response:
    """A replace or revoke confirmed on a page about a link that is no longer the live
    one: a second click, or another officer was quicker. Nothing is done twice."""
    flash(
        request,
        f"The card link of {member.display_name} was already replaced or revoked since "
        "that page was shown (a second click, or another officer); nothing changed.",
        "error",
    )
    return RedirectResponse(f"/members/{member.id}/card-links", status_code=303)


async def _issue(request: Request, member: Member) -> Response:
    db = request.state.db
    back = f"/members/{member.id}/card-links"
    try:
        issued = await issue_link(
            db, member, request.state.user, mail_context(request), clock.today(request.state.site)
        )
        flash(request, _sent_message(member, issued.recipients))
        await db.commit()
    except CardRefused as exc:
        await db.rollback()
        flash(request, str(exc), "error")
    return RedirectResponse(back, status_code=303)


@page("issue_card_links")
async def member_revoke(request: Request) -> Response:
    db = request.state.db
    member = await _member(request, request.path_params["member_id"], lock=True)
    await require_may_act(request, member)
    form = FormReader(await request.form())
    reason = form.text("reason", "Reason", max_length=300)
    if await changed_meanwhile(request, REVOKE, member, form.raw("subject")):
        return _already_changed(request, member)
    if not reason:  # one click is not enough: the confirmation page asks for the reason
        return await confirmation_page(
            request, REVOKE, member, error=REASON_MISSING, status_code=400
        )
    back = f"/members/{member.id}/card-links"
    try:
        await revoke_link(db, member, request.state.user, reason, clock.today(request.state.site))
        flash(request, f"The card link of {member.display_name} is revoked.")
        await db.commit()
    except CardRefused as exc:
        await db.rollback()
        flash(request, str(exc), "error")
    return RedirectResponse(back, status_code=303)


async def _my_minors(request: Request) -> list[Member]:
    user = request.state.user
    today = clock.today(request.state.site)
    children = (
        await request.state.db.execute(
            select(Member)
            .where(Member.parent_id == user.id, Member.deleted_at.is_(None))
            .order_by(Member.sca_name)
        )
    ).scalars()
    return [c for c in children if not is_adult(c.birth_month, c.birth_year, today)]


@page()
async def my_cards(request: Request) -> Response:
    db = request.state.db
    user = request.state.user
    minors = await _my_minors(request)
    histories = {m.id: (await link_history(db, m.id, limit=1)) for m in [user, *minors]}
    return render(request, "cards/my_cards.html", {"minors": minors, "latest": histories})


@page()
async def my_issue(request: Request) -> Response:
    """A member emails their own link, or a parent their minor child's. Only those: an
    officer acts on other members' links from their card-links page, where the rule on
    whom they may act on applies and a live link is replaced only with a reason."""
    db = request.state.db
    user = request.state.user
    form = FormReader(await request.form())
    target = await _member(request, form.raw("member_id") or str(user.id), lock=True)
    if target.id != user.id and target.id not in {m.id for m in await _my_minors(request)}:
        flash(request, "You can only email your own card link or your minor child's.", "error")
        return RedirectResponse("/me/cards", status_code=303)
    try:
        issued = await issue_link(
            db, target, request.state.user, mail_context(request), clock.today(request.state.site)
        )
        flash(request, _sent_message(target, issued.recipients))
        await db.commit()
    except CardRefused as exc:
        await db.rollback()
        flash(request, str(exc), "error")
    return RedirectResponse("/me/cards", status_code=303)


@page("issue_card_links")
async def bulk_page(request: Request) -> Response:
    db = request.state.db
    branches = (await db.execute(select(Branch).order_by(Branch.name))).scalars().all()
    jobs = (
        (await db.execute(select(CardIssueJob).order_by(CardIssueJob.id.desc()).limit(10)))
        .scalars()
        .all()
    )
    my_mail = await standing_for(db, request.state.user.id)
    return render(
        request,
        "cards/bulk.html",
        {
            "branches": branches,
            "statuses": STATUSES,
            "jobs": jobs,
            "job_state": job_state,
            "my_mail": my_mail,
        },
    )


@page("issue_card_links")
async def bulk_start(request: Request) -> Response:
    db = request.state.db
    form = FormReader(await request.form())
    branch_ids = [str(b) for b in (await db.execute(select(Branch.id))).scalars()]
    branch = form.choice("branch_id", "Branch", branch_ids)
    statuses = form.multi_choice("status", "Status", [s.key for s in STATUSES])
    if not form.ok:
        flash(request, " ".join(form.errors.values()), "error")
        return RedirectResponse("/cards/bulk", status_code=303)
    job = CardIssueJob(
        created_by_id=request.state.user.id,
        branch_id=int(branch) if branch else None,
        statuses=statuses,
        replace_existing=form.boolean("replace"),
    )
    db.add(job)
    await db.flush()
    try:
        await claim_run(db, job_holder(job.id))  # one run at a time, the job row with it
    except BulkRunBusy as busy:
        await db.rollback()
        flash(request, str(busy), "error")
        return RedirectResponse("/cards/bulk", status_code=303)
    await db.commit()
    task = asyncio.create_task(
        run_job(request.app.state.sessionmaker, job.id, mail_context(request))
    )
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return RedirectResponse(f"/cards/bulk/{job.id}", status_code=303)


async def _job(request: Request) -> CardIssueJob:
    job_id = parse_id(request.path_params["job_id"])
    db: AsyncSession = request.state.db
    job = None if job_id is None else await db.get(CardIssueJob, job_id)
    if job is None:
        raise HTTPException(404, "There is no such bulk issuing run.")
    return job


@page("issue_card_links")
async def bulk_job(request: Request) -> Response:
    job = await _job(request)
    return render(request, "cards/bulk_job.html", {"job": job, "state": job_state(job)})


@page("issue_card_links")
async def bulk_job_json(request: Request) -> Response:
    job = await _job(request)
    return JSONResponse(
        {
            "id": job.id,
            "state": job_state(job),
            "total": job.total,
            "done": job.done,
            "skipped_deactivated": job.skipped_deactivated,
            "error": job.error,
        },
        headers={"Cache-Control": "no-store"},
    )


routes = [
    Route("/members/{member_id}/card-links", member_card_links, methods=["GET"]),
    Route("/members/{member_id}/card-links/issue", member_issue, methods=["POST"]),
    Route("/members/{member_id}/card-links/revoke", member_revoke, methods=["POST"]),
    Route("/members/{member_id}/card-links/replace", member_replace, methods=["POST"]),
    Route("/me/cards", my_cards, methods=["GET"]),
    Route("/me/cards/issue", my_issue, methods=["POST"]),
    Route("/cards/bulk", bulk_page, methods=["GET"]),
    Route("/cards/bulk", bulk_start, methods=["POST"]),
    Route("/cards/bulk/{job_id}.json", bulk_job_json, methods=["GET"]),
    Route("/cards/bulk/{job_id}", bulk_job, methods=["GET"]),
]
