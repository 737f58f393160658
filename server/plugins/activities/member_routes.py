"""Members' and authorizers' pages: a member's authorizations with history, requests,
retracting, the authorizer's queue, votes and revocation. Every POST re-checks on the
server (in ``requests``/``decisions``); a refusal is flashed and changes nothing. Forms
may name where to go back to in ``next`` (a path under ``/activities/``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.auth.guards import page
from server.authcards.routes import may_print
from server.members.models import Member
from server.plugins.activities import decisions, requests, terms
from server.plugins.activities.models import (
    APPROVED,
    PENDING,
    Activity,
    ActivityGroup,
    Authorization,
    AuthorizationVote,
)
from server.plugins.activities.notify import ActivityError
from server.web.forms import FormReader, parse_id
from server.web.templating import flash, render


async def _member(db: AsyncSession, raw: str | None) -> Member:
    member_id = parse_id(raw)
    member = None if member_id is None else await db.get(Member, member_id)
    if member is None or member.is_deleted:
        raise HTTPException(404, "There is no such member.")
    return member


def _may_view(request: Request, member: Member, today: dt.date) -> bool:
    user: Member = request.state.user
    return requests.may_act_for(user, member, today) or "manage_activities" in request.state.perms


@page()
async def mine(request: Request) -> Response:
    return RedirectResponse(f"/activities/members/{request.state.user.id}", status_code=303)


@page()
async def member_page(request: Request) -> Response:
    db: AsyncSession = request.state.db
    today = clock.today(request.state.site)
    member = await _member(db, request.path_params["member_id"])
    if not _may_view(request, member, today):
        raise HTTPException(
            403, "You can only see your own authorizations (or your minor child's)."
        )
    history = (
        await db.execute(
            select(Authorization, Activity, ActivityGroup)
            .join(Activity, Activity.id == Authorization.activity_id)
            .join(ActivityGroup, ActivityGroup.id == Activity.group_id)
            .where(Authorization.member_id == member.id)
            .order_by(Authorization.requested_at.desc(), Authorization.id.desc())
        )
    ).all()
    voter = aliased(Member)
    votes: dict[int, list[tuple[AuthorizationVote, Member]]] = {}
    for vote, who in (
        await db.execute(
            select(AuthorizationVote, voter)
            .join(voter, voter.id == AuthorizationVote.authorizer_id)
            .where(AuthorizationVote.authorization_id.in_([a.id for a, _, _ in history]))
            .order_by(AuthorizationVote.at)
        )
    ).all():
        votes.setdefault(vote.authorization_id, []).append((vote, who))
    held = {
        a.activity_id
        for a, _, _ in history
        if a.status == APPROVED and terms.is_current(a.expires_on, today)
    }
    waiting = {a.activity_id for a, _, _ in history if a.status == PENDING}
    offered = (
        await db.execute(
            select(Activity, ActivityGroup)
            .join(ActivityGroup, ActivityGroup.id == Activity.group_id)
            .where(Activity.is_active.is_(True), ActivityGroup.is_active.is_(True))
            .order_by(ActivityGroup.name, Activity.name)
        )
    ).all()
    return render(
        request,
        "activities/member.html",
        {
            "member": member,
            "history": history,
            "votes": votes,
            "held": held,
            "waiting": waiting,
            "offered": offered,
            "can_act": requests.may_act_for(request.state.user, member, today),
            "may_print": may_print(request.state.user, request.state.perms, member, today),
            "age_problem": lambda activity: requests.age_problem(activity, member, today),
        },
    )


async def _run(
    request: Request, back: str, action: Callable[[AsyncSession, FormReader], Awaitable[str]]
) -> Response:
    """Run one flow in the request's transaction: commit and flash, or roll back and explain."""
    db: AsyncSession = request.state.db
    form = FormReader(await request.form())
    target = form.raw("next")
    if target.startswith("/activities/") and "//" not in target:
        back = target
    try:
        message = await action(db, form)
    except ActivityError as exc:
        await db.rollback()
        flash(request, str(exc), "error")
    else:
        await db.commit()
        flash(request, message)
    return RedirectResponse(back, status_code=303)


@page()
async def request_new(request: Request) -> Response:
    member_id = request.path_params["member_id"]
    back = f"/activities/members/{member_id}"

    async def act(db: AsyncSession, form: FormReader) -> str:
        member = await _member(db, member_id)
        activity_id = parse_id(form.raw("activity_id"))
        activity = None if activity_id is None else await db.get(Activity, activity_id)
        if activity is None:
            raise ActivityError("Choose one of the listed activities.")
        name = activity.name
        await requests.request_authorization(
            db,
            member=member,
            activity=activity,
            actor=request.state.user,
            renewal=form.raw("kind") == "renewal",
            today=clock.today(request.state.site),
        )
        return f"Your request for {name} is recorded; authorizers will review it."

    return await _run(request, back, act)


async def _authorization(db: AsyncSession, raw: str) -> Authorization:
    authorization_id = parse_id(raw)
    found = None if authorization_id is None else await db.get(Authorization, authorization_id)
    if found is None:
        raise ActivityError("There is no such authorization.")
    return found


@page()
async def retract(request: Request) -> Response:
    raw = request.path_params["authorization_id"]

    async def act(db: AsyncSession, form: FormReader) -> str:
        authorization = await _authorization(db, raw)
        member = await db.get_one(Member, authorization.member_id)
        await requests.retract(
            db,
            authorization=authorization,
            member=member,
            actor=request.state.user,
            today=clock.today(request.state.site),
        )
        return "The request is retracted."

    return await _run(request, "/activities/mine", act)


def _waiting_for(user: Member, perms: frozenset[str]) -> list[ColumnElement[bool]]:
    """Pending requests ``user`` may vote on: their permission, not their own, not voted."""
    return [
        Authorization.status == PENDING,
        Activity.authorize_permission.in_(sorted(perms)),
        Authorization.member_id != user.id,
        or_(
            Authorization.requested_by_id.is_(None),
            Authorization.requested_by_id != user.id,
        ),
        ~exists().where(
            AuthorizationVote.authorization_id == Authorization.id,
            AuthorizationVote.authorizer_id == user.id,
        ),
    ]


async def waiting_count(
    db: AsyncSession, user: Member, perms: frozenset[str], today: dt.date
) -> int | None:
    """The dashboard's count behind "Authorization requests"; None for non-authorizers."""
    authorizes = await db.scalar(
        select(func.count())
        .select_from(Activity)
        .where(Activity.authorize_permission.in_(sorted(perms)))
    )
    if not authorizes:
        return None
    count = await db.scalar(
        select(func.count())
        .select_from(Authorization)
        .join(Activity, Activity.id == Authorization.activity_id)
        .where(*_waiting_for(user, perms))
    )
    return int(count or 0)


@page()
async def queue(request: Request) -> Response:
    db: AsyncSession = request.state.db
    user: Member = request.state.user
    subject = aliased(Member)
    rows = (
        await db.execute(
            select(Authorization, Activity, subject)
            .join(Activity, Activity.id == Authorization.activity_id)
            .join(subject, subject.id == Authorization.member_id)
            .where(*_waiting_for(user, request.state.perms))
            .order_by(Authorization.requested_at)
        )
    ).all()
    return render(request, "activities/queue.html", {"rows": rows})


@page()
async def cast_vote(request: Request) -> Response:
    raw = request.path_params["authorization_id"]

    async def act(db: AsyncSession, form: FormReader) -> str:
        decision = form.choice("decision", "Decision", ["approve", "deny"], required=True)
        if not form.ok:
            raise ActivityError("Choose approve or deny.")
        authorization = await decisions.vote(
            db,
            authorization_id=(await _authorization(db, raw)).id,
            authorizer=request.state.user,
            approve=decision == "approve",
            note=form.text("note", "Note", max_length=2000),
            today=clock.today(request.state.site),
        )
        if authorization.status == APPROVED:
            return "Approved: the authorization is now active."
        if decision == "deny":
            return "The request is denied."
        return "Your approval is recorded; more approvals are needed."

    return await _run(request, "/activities/queue", act)


@page("manage_activities")
async def revoke(request: Request) -> Response:
    raw = request.path_params["authorization_id"]

    async def act(db: AsyncSession, form: FormReader) -> str:
        authorization = await decisions.revoke(
            db,
            authorization_id=(await _authorization(db, raw)).id,
            actor=request.state.user,
            reason=form.text("reason", "Reason", max_length=2000),
            today=clock.today(request.state.site),
        )
        return f"Authorization {authorization.id} is revoked."

    return await _run(request, "/activities/admin/authorizations", act)


routes = [
    Route("/activities/mine", mine),
    Route("/activities/members/{member_id}", member_page),
    Route("/activities/members/{member_id}/request", request_new, methods=["POST"]),
    Route("/activities/authorizations/{authorization_id}/retract", retract, methods=["POST"]),
    Route("/activities/authorizations/{authorization_id}/vote", cast_vote, methods=["POST"]),
    Route("/activities/authorizations/{authorization_id}/revoke", revoke, methods=["POST"]),
    Route("/activities/queue", queue),
]
