"""Admin controls for the status actions: one POST route per action, and a status page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.auth import precedence
from server.auth.guards import page
from server.members import actions
from server.members.actions import ActionRefused
from server.members.confirm import (
    CLEAR,
    DEACTIVATE,
    REASON_MISSING,
    Confirmation,
    confirmation_page,
)
from server.members.models import Member
from server.web.forms import FormReader, parse_id
from server.web.templating import flash, render

Action = Callable[[Request, Member, FormReader, int, dt.date], Awaitable[str]]
STATUS_PERMISSIONS = frozenset({"verify_members", "manage_members"})


async def load_member(request: Request) -> Member:
    member_id = parse_id(request.path_params.get("member_id"))
    db: AsyncSession = request.state.db
    member = None if member_id is None else await db.get(Member, member_id)
    if member is None or member.is_deleted:
        raise HTTPException(404, "There is no such member.")
    return member


def _back(form: FormReader, member: Member) -> str:
    back = form.raw("back")
    if back.startswith("/") and not back.startswith("//") and "\\" not in back:
        return back
    return f"/members/{member.id}/status"


async def _run(
    request: Request,
    action: Action,
    confirm: Confirmation | None = None,
    *,
    fields: tuple[str, ...] = (),
) -> Response:
    """``confirm``: a destructive action; without a reason its confirmation page answers.
    ``fields``: what the action's form asks for; when it is refused, the status page
    answers (400) with that form open, what was typed kept and the reason at its fields."""
    db = request.state.db
    member = await load_member(request)
    form = FormReader(await request.form())
    back = _back(form, member)
    version = form.integer("version", "Version", required=True, minimum=1)
    if version is None:
        flash(request, "The form is incomplete — reload the page and try again.", "error")
        return RedirectResponse(back, status_code=303)
    refused = await precedence.refusal(request, member)
    if refused:
        flash(request, refused, "error")
        return RedirectResponse(back, status_code=303)
    if confirm is not None and not form.text("reason", "Reason", max_length=2000):
        return await confirmation_page(
            request, confirm, member, error=REASON_MISSING, status_code=400
        )
    try:
        message = await action(request, member, form, version, clock.today(request.state.site))
        await db.commit()
    except ActionRefused as exc:
        await db.rollback()
        if fields:
            await db.refresh(request.state.user)  # expired by the rollback; the page shows it
            typed = {name: form.raw(name) for name in fields}
            return await _status(request, refusal=exc.message, typed=typed)
        flash(request, exc.message, "error")
    else:
        flash(request, message)
    return RedirectResponse(back, status_code=303)


async def _verify(
    request: Request, member: Member, form: FormReader, version: int, today: dt.date
) -> str:
    expires_on = form.date("membership_expires_on", "Membership expiry date")
    if form.errors:
        raise ActionRefused(" ".join(form.errors.values()))
    return await actions.verify_membership(
        request.state.db,
        member,
        request.state.user,
        expected_version=version,
        number=form.text("membership_number", "Membership number", max_length=40),
        expires_on=expires_on,
        today=today,
    )


async def _link_parent(
    request: Request, member: Member, form: FormReader, version: int, today: dt.date
) -> str:
    return await actions.link_parent(
        request.state.db,
        member,
        request.state.user,
        expected_version=version,
        parent_email=form.text("parent_email", "Parent's email", max_length=254),
        today=today,
    )


def _without_input(service: Callable[..., Awaitable[str]]) -> Action:
    """An action whose form carries nothing but the version (reactivate)."""

    async def run(
        request: Request, member: Member, form: FormReader, version: int, today: dt.date
    ) -> str:
        return await service(
            request.state.db, member, request.state.user, expected_version=version, today=today
        )

    return run


def _with_reason(service: Callable[..., Awaitable[str]]) -> Action:
    """An action whose form carries the version and a reason (clear, deactivate)."""

    async def run(
        request: Request, member: Member, form: FormReader, version: int, today: dt.date
    ) -> str:
        return await service(
            request.state.db,
            member,
            request.state.user,
            expected_version=version,
            today=today,
            reason=form.text("reason", "Reason", max_length=2000),
        )

    return run


@page("verify_members")
async def verify_route(request: Request) -> Response:
    return await _run(request, _verify, fields=("membership_number", "membership_expires_on"))


@page("verify_members")
async def link_parent_route(request: Request) -> Response:
    return await _run(request, _link_parent, fields=("parent_email",))


@page("verify_members")
async def clear_route(request: Request) -> Response:
    return await _run(request, _with_reason(actions.clear_membership), CLEAR)


@page("manage_members")
async def deactivate_route(request: Request) -> Response:
    return await _run(request, _with_reason(actions.deactivate), DEACTIVATE)


@page("manage_members")
async def reactivate_route(request: Request) -> Response:
    return await _run(request, _without_input(actions.reactivate))


@page(staff=True)
async def status_page(request: Request) -> Response:
    if not STATUS_PERMISSIONS & request.state.perms:
        raise HTTPException(
            403,
            "You need the permission “Verify memberships and link parents” or "
            "“Manage members” for this page.",
        )
    return await _status(request)


async def _status(
    request: Request, *, refusal: str = "", typed: dict[str, str] | None = None
) -> Response:
    member = await load_member(request)
    db = request.state.db
    parent = None if member.parent_id is None else await db.get(Member, member.parent_id)
    refused = await precedence.refusal(request, member)
    return render(
        request,
        "members/status.html",
        {
            "member": member,
            "parent": parent,
            "account_protected": refused,
            "refusal": refusal,
            "typed": typed or {},
        },
        status_code=400 if refusal else 200,
    )


routes = [
    Route("/members/{member_id}/status", status_page, methods=["GET"]),
    Route("/members/{member_id}/verify-membership", verify_route, methods=["POST"]),
    Route("/members/{member_id}/link-parent", link_parent_route, methods=["POST"]),
    Route("/members/{member_id}/clear-membership", clear_route, methods=["POST"]),
    Route("/members/{member_id}/deactivate", deactivate_route, methods=["POST"]),
    Route("/members/{member_id}/reactivate", reactivate_route, methods=["POST"]),
]
