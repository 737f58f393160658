"""Admin pages for groups and group memberships (permission ``manage_groups``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.audit.log import snapshot
from server.auth import permissions as catalogue
from server.auth.guards import page
from server.auth.precedence import protected_ids, refusal, require_may_act
from server.groups.forms import find_member, read_group, read_membership
from server.groups.models import Group, GroupMembership
from server.groups.periods import phase
from server.groups.service import (
    MEMBERSHIP_EDITED,
    GroupChanged,
    GroupRuleError,
    add_membership,
    check_grantable,
    create_group,
    end_membership,
    granted_by_edit,
    update_group,
    update_membership,
)
from server.members.models import Member
from server.web.forms import FormReader, parse_id
from server.web.navigation import NavLink
from server.web.seen import fingerprint
from server.web.templating import flash, render

# The admin menu's links to this area's pages (``create_app`` adds them).
nav_links = [
    NavLink("Groups", "/groups", permission="manage_groups", order=30),
]


async def _group_or_404(request: Request) -> Group:
    group_id = parse_id(request.path_params.get("group_id"))
    db: AsyncSession = request.state.db
    group = None if group_id is None else await db.get(Group, group_id)
    if group is None:
        raise HTTPException(404, "There is no such group.")
    return group


async def _membership_or_404(request: Request, group: Group) -> GroupMembership:
    membership_id = parse_id(request.path_params.get("membership_id"))
    db: AsyncSession = request.state.db
    membership = None if membership_id is None else await db.get(GroupMembership, membership_id)
    if membership is None or membership.group_id != group.id:
        raise HTTPException(404, "There is no such membership in this group.")
    return membership


async def _roll_back(request: Request) -> None:
    """Undo a refused change; the signed-in member is read again (a rollback expires it,
    and the page drawn next asks whom the viewer may act on)."""
    db = request.state.db
    await db.rollback()
    await db.refresh(request.state.user)


@page("manage_groups")
async def group_list(request: Request) -> Response:
    db = request.state.db
    today = clock.today(request.state.site)
    groups = list((await db.execute(select(Group).order_by(Group.name))).scalars())
    counts = dict(
        (
            await db.execute(
                select(GroupMembership.group_id, func.count())
                .where(
                    GroupMembership.since <= today,
                    (GroupMembership.until.is_(None)) | (GroupMembership.until >= today),
                )
                .group_by(GroupMembership.group_id)
            )
        ).all()
    )
    return render(request, "groups/list.html", {"groups": groups, "counts": counts})


def _form_page(
    request: Request, group: Group | None, errors: dict[str, str], values: Any, status: int = 200
) -> Response:
    return render(
        request,
        "groups/form.html",
        {
            "group": group,
            "errors": errors,
            "values": values,
            "catalogue": catalogue.catalogue(),
            "seen": fingerprint(snapshot(group)) if group is not None else "",
        },
        status_code=status,
    )


async def _save_group(request: Request, group: Group | None) -> Response:
    db = request.state.db
    group_id = None if group is None else group.id
    form = FormReader(await request.form())
    values = read_group(form)
    if values is None:
        return _form_page(request, group, form.errors, form.form, 400)
    user = request.state.user
    # Taking a permission away from a group lowers the standing of its members
    # (``server.auth.precedence``): nobody removes a permission they do not hold, any
    # more than they grant one.
    before = set() if group is None else set(group.permissions + group.chair_permissions)
    try:
        check_grantable(
            user, request.state.perms, before | set(values.permissions + values.chair_permissions)
        )
        if group is None:
            group = await create_group(db, values, actor_id=user.id)
            verb = "created"
        else:
            group = await update_group(
                db,
                group.id,
                values,
                actor_id=user.id,
                today=clock.today(request.state.site),
                seen=form.raw("seen"),
            )
            verb = "saved"
        await db.commit()
    except GroupRuleError as exc:
        await _roll_back(request)
        group = None if group_id is None else await db.get(Group, group_id)
        if isinstance(exc, GroupChanged):  # the page shows the group as saved now
            return _form_page(request, group, {"form": str(exc)}, None, 409)
        return _form_page(request, group, {exc.field: str(exc)}, form.form, 400)
    flash(request, f"Group {group.name} {verb}.")
    return RedirectResponse(f"/groups/{group.id}", status_code=303)


@page("manage_groups")
async def group_new(request: Request) -> Response:
    if request.method != "POST":
        return _form_page(request, None, {}, None)
    return await _save_group(request, None)


@page("manage_groups")
async def group_edit(request: Request) -> Response:
    group = await _group_or_404(request)
    if request.method != "POST":
        return _form_page(request, group, {}, None)
    return await _save_group(request, group)


async def _detail_page(
    request: Request,
    group: Group,
    errors: dict[str, str] | None = None,
    values: Any = None,
    status: int = 200,
) -> Response:
    db = request.state.db
    today = clock.today(request.state.site)
    rows = (
        await db.execute(
            select(GroupMembership, Member)
            .join(Member, Member.id == GroupMembership.member_id)
            .where(GroupMembership.group_id == group.id)
            .order_by(GroupMembership.since.desc(), Member.sca_name)
        )
    ).all()
    phases: dict[str, list[Any]] = {"current": [], "upcoming": [], "previous": []}
    people_ids = {gm.granted_by_id for gm, _ in rows} | {gm.ended_by_id for gm, _ in rows}
    people_ids.discard(None)
    people = {
        m.id: m
        for m in (await db.execute(select(Member).where(Member.id.in_(people_ids)))).scalars()
    }
    for gm, member in rows:
        phases[phase(gm, group, today)].append((gm, member))
    # Members above the viewer: their memberships are not the viewer's to edit or end.
    protected = await protected_ids(db, request.state.user, request.state.perms, today)
    return render(
        request,
        "groups/detail.html",
        {
            "group": group,
            "phases": phases,
            "people": people,
            "labels": {p.key: p.label for p in catalogue.catalogue()},
            "errors": errors or {},
            "values": values,
            "protected": protected,
        },
        status_code=status,
    )


@page("manage_groups")
async def group_detail(request: Request) -> Response:
    return await _detail_page(request, await _group_or_404(request))


@page("manage_groups")
async def membership_add(request: Request) -> Response:
    db = request.state.db
    group = await _group_or_404(request)
    form = FormReader(await request.form())
    who = form.text("member", "Member", required=True, max_length=254)
    values = read_membership(form, clock.today(request.state.site))
    member = await find_member(db, who) if who else None
    if who and member is None:
        form.errors["member"] = (
            "No member (or more than one) matches; give an email, a membership number or #number."
        )
    if values is None or member is None:
        return await _detail_page(request, group, form.errors, form.form, 400)
    # A member above the viewer is not theirs to put in a group, as their memberships are
    # not theirs to edit or end (``server.auth.precedence``).
    refused = await refusal(request, member)
    if refused:
        return await _detail_page(
            request, group, {"member": f"Not added: {refused}"}, form.form, 403
        )
    user = request.state.user
    try:
        check_grantable(
            user,
            request.state.perms,
            set(
                group.permissions + group.chair_permissions
                if values.is_chair
                else group.permissions
            ),
        )
        await add_membership(
            db, group.id, member, values, actor_id=user.id, today=clock.today(request.state.site)
        )
        await db.commit()
    except GroupRuleError as exc:
        await _roll_back(request)
        group = await _group_or_404(request)
        return await _detail_page(request, group, {exc.field: str(exc)}, form.form, 400)
    flash(request, f"{member.display_name} joined {group.name}.")
    return RedirectResponse(f"/groups/{group.id}", status_code=303)


@page("manage_groups")
async def membership_edit(request: Request) -> Response:
    db = request.state.db
    group = await _group_or_404(request)
    membership = await _membership_or_404(request, group)
    member = await db.get(Member, membership.member_id)
    assert member is not None  # a foreign key
    await require_may_act(request, member)
    context = {
        "group": group,
        "membership": membership,
        "member": member,
        "errors": {},
        "seen": fingerprint(snapshot(membership, MEMBERSHIP_EDITED)),
    }
    if request.method != "POST":
        return render(request, "groups/membership_edit.html", context)
    form = FormReader(await request.form())
    values = read_membership(form, membership.since)
    if values is None:
        context.update(errors=form.errors, values=form.form)
        return render(request, "groups/membership_edit.html", context, status_code=400)
    user = request.state.user
    try:
        # Reopening an ended membership (or bringing an upcoming one forward) hands out
        # the group's permissions like adding one: the actor's own included.
        check_grantable(user, request.state.perms, granted_by_edit(group, membership, values))
        changed = await update_membership(
            db,
            membership,
            values,
            actor_id=user.id,
            today=clock.today(request.state.site),
            seen=form.raw("seen"),
        )
        await db.commit()
    except GroupRuleError as exc:
        await _roll_back(request)
        for obj in (group, membership, member):
            await db.refresh(obj)
        context["seen"] = fingerprint(snapshot(membership, MEMBERSHIP_EDITED))
        if isinstance(exc, GroupChanged):  # the page shows the membership as saved now
            context.update(errors={"form": str(exc)})
            return render(request, "groups/membership_edit.html", context, status_code=409)
        context.update(errors={exc.field: str(exc)}, values=form.form)
        return render(request, "groups/membership_edit.html", context, status_code=400)
    flash(request, "Membership saved." if changed else "Nothing changed.")
    return RedirectResponse(f"/groups/{group.id}", status_code=303)


@page("manage_groups")
async def membership_end(request: Request) -> Response:
    db = request.state.db
    group = await _group_or_404(request)
    membership = await _membership_or_404(request, group)
    member = await db.get(Member, membership.member_id)
    assert member is not None  # a foreign key
    refused = await refusal(request, member)
    if refused:
        return await _detail_page(request, group, {"end": f"Not ended: {refused}"}, None, 403)
    form = FormReader(await request.form())
    today = clock.today(request.state.site)
    until = form.date("until", "End date") or today
    if not form.ok:
        return await _detail_page(request, group, {"end": form.errors["until"]}, None, 400)
    try:
        changed = await end_membership(
            db, membership, until, actor_id=request.state.user.id, today=today
        )
        await db.commit()
    except GroupRuleError as exc:
        await _roll_back(request)
        group = await _group_or_404(request)
        return await _detail_page(request, group, {"end": f"Not ended: {exc}"}, None, 400)
    if not changed:
        flash(request, "Nothing changed.")
    elif membership.is_cancelled:
        flash(request, f"Membership from {membership.since} cancelled: it never begins.")
    else:
        flash(request, f"Membership ends on {until}.")
    return RedirectResponse(f"/groups/{group.id}", status_code=303)


routes = [
    Route("/groups", group_list, methods=["GET"]),
    Route("/groups/new", group_new, methods=["GET", "POST"]),
    Route("/groups/{group_id}", group_detail, methods=["GET"]),
    Route("/groups/{group_id}/edit", group_edit, methods=["GET", "POST"]),
    Route("/groups/{group_id}/memberships", membership_add, methods=["POST"]),
    Route(
        "/groups/{group_id}/memberships/{membership_id}/edit",
        membership_edit,
        methods=["GET", "POST"],
    ),
    Route("/groups/{group_id}/memberships/{membership_id}/end", membership_end, methods=["POST"]),
]
