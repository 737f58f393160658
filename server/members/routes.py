"""The member register in the admin area: list, detail, edit, soft delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.auth.guards import page
from server.auth.precedence import (
    MEMBERSHIP_FACTS,
    OWN_MEMBERSHIP,
    own_membership_refused,
    refusal,
    require_may_act,
)
from server.cards.service import live_link
from server.groups.periods import memberships_of
from server.member_codes.holders import origin_of
from server.members.branches import all_branches, branch_options
from server.members.form import info_fields, read_member_form
from server.members.lookup import LIST_PERMISSIONS, REGISTER_PERMISSIONS, path_member
from server.members.models import Member
from server.members.parent_links import ended_words
from server.members.search import (
    CARD_FILTERS,
    MEMBERSHIP_FILTERS,
    PAGE_SIZE,
    SORTS,
    MemberSearch,
    search,
)
from server.members.service import EmailTaken, MemberChangeError, save_member, soft_delete
from server.members.status import STATUSES
from server.proofs.service import proofs_of
from server.web.forms import FormReader
from server.web.navigation import REGISTER, NavLink
from server.web.templating import flash, render

# The admin menu's links to this area's pages (``create_app`` adds them).
nav_links = [
    NavLink("Members", "/members", LIST_PERMISSIONS, order=10, group=REGISTER),
]


@page(LIST_PERMISSIONS)
async def member_list(request: Request) -> Response:
    db = request.state.db
    criteria = MemberSearch.from_query(dict(request.query_params))
    branches = await all_branches(db)
    today = clock.today(request.state.site)
    members, total = await search(db, criteria, branches, today)
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    return render(
        request,
        "members/list.html",
        {
            "members": members,
            "total": total,
            "criteria": criteria,
            "pages": pages,
            "today": today,
            "branch_options": branch_options(branches),
            "status_options": [(s.key, s.label) for s in STATUSES],
            "membership_options": list(MEMBERSHIP_FILTERS.items()),
            "card_options": list(CARD_FILTERS.items()),
            "sorts": SORTS,
        },
    )


@page(REGISTER_PERMISSIONS)
async def member_detail(request: Request) -> Response:
    db = request.state.db
    member = await path_member(request)
    today = clock.today(request.state.site)
    children = (
        (
            await db.execute(
                select(Member)
                .where(Member.parent_id == member.id, Member.deleted_at.is_(None))
                .order_by(Member.sca_name)
            )
        )
        .scalars()
        .all()
    )
    return render(
        request,
        "members/detail.html",
        {
            "member": member,
            "children": children,
            "origin": await origin_of(db, member.id),
            "live_card_link": await live_link(db, member.id) is not None,
            "proofs": await proofs_of(db, member.id)
            if "verify_members" in request.state.perms
            else [],
            "memberships": await memberships_of(db, member.id, today),
            "info_fields": info_fields(request.state.site),
            "account_protected": await refusal(request, member),
        },
    )


async def _edit_page(
    request: Request,
    member: Member,
    errors: dict[str, str] | None = None,
    values: Any = None,
    status_code: int = 200,
) -> Response:
    branches = await all_branches(request.state.db)
    return render(
        request,
        "members/edit.html",
        {
            "member": member,
            "values": values,
            "errors": errors or {},
            "branch_options": branch_options(branches),
            "info_fields": info_fields(request.state.site),
        },
        status_code=status_code,
    )


@page("manage_members")
async def member_edit(request: Request) -> Response:
    db = request.state.db
    member = await path_member(request)
    if member.is_deleted:
        raise HTTPException(409, "This member was deleted; their record can be read, not edited.")
    await require_may_act(request, member)
    if request.method != "POST":
        return await _edit_page(request, member)
    form = FormReader(await request.form())
    version = form.integer("version", "Version", required=True, minimum=1, maximum=2**31 - 1)
    branches = await all_branches(db)
    values = read_member_form(
        form,
        member,
        branch_ids={b.id for b in branches},
        fields=info_fields(request.state.site),
        today=clock.today(request.state.site),
    )
    if own_membership_refused(request.state.user, member):
        for name in MEMBERSHIP_FACTS:
            if (values.get(name) or None) != (getattr(member, name) or None):
                form.errors[name] = OWN_MEMBERSHIP
    if not form.ok:
        if "version" in form.errors:
            raise HTTPException(400, "The form is incomplete; reload the page and try again.")
        return await _edit_page(request, member, form.errors, form.form, 400)
    try:
        changed = await save_member(
            db,
            member,
            values,
            actor_id=request.state.user.id,
            expected_version=version,
            today=clock.today(request.state.site),
        )
        await db.commit()
    except IntegrityError:
        await db.rollback()
        return await _stale_or_taken(request, EmailTaken(), form)
    except MemberChangeError as exc:
        await db.rollback()
        return await _stale_or_taken(request, exc, form)
    flash(request, f"Saved {member.display_name}." if changed else "Nothing changed.")
    return RedirectResponse(f"/members/{member.id}", status_code=303)


async def _stale_or_taken(request: Request, exc: MemberChangeError, form: FormReader) -> Response:
    member = await path_member(request)
    errors = {exc.field or "form": str(exc)}
    status = 400 if exc.field else 409
    return await _edit_page(request, member, errors, form.form, status)


@page("manage_members")
async def member_delete(request: Request) -> Response:
    """Soft delete: superusers only (checked here, whatever the page showed)."""
    db = request.state.db
    user = request.state.user
    if not user.is_superuser:
        raise HTTPException(403, "Only a superuser may delete members.")
    member = await path_member(request)
    await require_may_act(request, member)
    if member.is_deleted:
        flash(request, f"{member.display_name} was already deleted.", "warning")
        return RedirectResponse(f"/members/{member.id}", status_code=303)
    if request.method != "POST":
        return render(request, "members/delete.html", {"member": member, "errors": {}})
    form = FormReader(await request.form())
    reason = form.text("reason", "Reason", required=True, max_length=500)
    if not form.boolean("confirm"):
        form.errors["confirm"] = "Tick the box to confirm."
    if member.id == user.id:
        form.errors["confirm"] = "You cannot delete your own account."
    if not form.ok:
        return render(
            request,
            "members/delete.html",
            {"member": member, "errors": form.errors, "reason": reason},
            status_code=400,
        )
    name = member.display_name
    children = await soft_delete(
        db, member, actor_id=user.id, reason=reason, today=clock.today(request.state.site)
    )
    await db.commit()
    flash(request, f"{name} was deleted. Their history stays readable; the email is free again.")
    if children:
        flash(request, await ended_words(db, children))
    return RedirectResponse("/members", status_code=303)


routes = [
    Route("/members", member_list, methods=["GET"]),
    Route("/members/{member_id}", member_detail, methods=["GET"]),
    Route("/members/{member_id}/edit", member_edit, methods=["GET", "POST"]),
    Route("/members/{member_id}/delete", member_delete, methods=["GET", "POST"]),
]
