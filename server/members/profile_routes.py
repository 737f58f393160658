"""``/me``: a member's own profile, their editable fields and their password."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.audit.log import record
from server.auth.current import end_session, start_session
from server.auth.guards import page
from server.auth.login import LOCKED, password_attempt
from server.auth.passwords import hash_password_off_loop, password_problem
from server.auth.reset import void_open_links
from server.auth.sessions import end_all, open_sessions, token_hash
from server.groups.periods import memberships_of
from server.members.form import info_fields, read_additional_info
from server.members.lookup import member_or_404
from server.members.service import MemberChangeError, save_member
from server.proofs.service import proofs_of
from server.web.forms import FormReader
from server.web.templating import flash, render


async def _profile(
    request: Request,
    *,
    info_errors: dict[str, str] | None = None,
    password_error: str = "",
    values: object = None,
    status_code: int = 200,
) -> Response:
    db = request.state.db
    member = await member_or_404(db, str(request.state.user.id))
    fields = info_fields(request.state.site)
    sid = request.session.get("sid", "")
    return render(
        request,
        "members/me.html",
        {
            "member": member,
            "memberships": await memberships_of(db, member.id, clock.today(request.state.site)),
            "proofs": await proofs_of(db, member.id, limit=1),
            "editable_fields": [f for f in fields if f.get("member_editable")],
            "public_fields": [
                f for f in fields if f.get("public") and not f.get("member_editable")
            ],
            "errors": info_errors or {},
            "values": values,
            "password_error": password_error,
            "sessions": await open_sessions(db, member.id),
            "this_session": token_hash(sid) if isinstance(sid, str) else "",
        },
        status_code=status_code,
    )


@page()
async def me(request: Request) -> Response:
    return await _profile(request)


@page()
async def me_info(request: Request) -> Response:
    """Save the additional-info fields the member may edit themselves."""
    db = request.state.db
    member = request.state.user
    form = FormReader(await request.form())
    version = form.integer("version", "Version", required=True, minimum=1, maximum=2**31 - 1)
    fields = info_fields(request.state.site, member_editable_only=True)
    info = read_additional_info(form, fields, member.additional_info)
    if not form.ok:
        return await _profile(request, info_errors=form.errors, values=form.form, status_code=400)
    try:
        changed = await save_member(
            db,
            member,
            {"additional_info": info},
            actor_id=member.id,
            expected_version=version,
            action="member.self_update",
            today=clock.today(request.state.site),
        )
        await db.commit()
    except MemberChangeError as exc:
        await db.rollback()
        await db.refresh(member)  # the rollback expired it; the page below reads it
        return await _profile(request, info_errors={"form": str(exc)}, status_code=409)
    flash(request, "Your details are saved." if changed else "Nothing changed.")
    return RedirectResponse("/me", status_code=303)


@page()
async def me_password(request: Request) -> Response:
    """Change your own password: the current one is checked against the login lockout."""
    db = request.state.db
    member = request.state.user
    form = FormReader(await request.form())
    current = form.raw("current_password")[:1000]
    new = form.raw("password")
    outcome = await password_attempt(db, member, current)
    problem = password_problem(new)
    if outcome == "locked":
        problem = LOCKED
    elif outcome == "wrong":  # counted (and committed) as at the login
        await db.refresh(member)
        locked = member.locked_until is not None
        problem = LOCKED if locked else "Your current password is not right."
    elif problem is None and new != form.raw("password_again"):
        problem = "The two new passwords differ."
    if problem:
        return await _profile(request, password_error=problem, status_code=400)
    member.password_hash = await hash_password_off_loop(new)
    member.modified_at = dt.datetime.now(dt.UTC)
    member.modified_by_id = member.id
    record(
        db, actor_id=member.id, action="member.password_change", entity=member, member_id=member.id
    )
    await end_all(db, member.id, "password_change")
    await void_open_links(db, member.id, member.modified_at)
    await start_session(request, db, member)
    await db.commit()
    flash(request, "Your password is changed. Other devices are logged out.")
    return RedirectResponse("/me", status_code=303)


@page()
async def me_logout_everywhere(request: Request) -> Response:
    """End every session of yours, this one included."""
    db = request.state.db
    ended = await end_all(db, request.state.user.id, "logout_everywhere")
    await end_session(request, db, "logout_everywhere")
    await db.commit()
    flash(request, f"You are logged out everywhere ({ended} sessions ended).")
    return RedirectResponse("/login", status_code=303)


routes = [
    Route("/me", me, methods=["GET"]),
    Route("/me/info", me_info, methods=["POST"]),
    Route("/me/password", me_password, methods=["POST"]),
    Route("/me/logout-everywhere", me_logout_everywhere, methods=["POST"]),
]
