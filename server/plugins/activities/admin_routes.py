"""Admin pages: activity groups, activities, and every authorization (``manage_activities``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.audit.log import changes, record, snapshot
from server.auth import permissions
from server.auth.guards import page
from server.cards.invalidation import invalidate
from server.members.models import Member
from server.plugins.activities.models import (
    STATUS_LABELS,
    Activity,
    ActivityGroup,
    Authorization,
)
from server.plugins.activities.permissions import DEFAULT_AUTHORIZER_PERMISSION
from server.web.forms import FormReader, parse_id
from server.web.templating import flash, render

PERMISSION = "manage_activities"
LIST_LIMIT = 200


async def _groups(db: AsyncSession) -> list[ActivityGroup]:
    return list((await db.scalars(select(ActivityGroup).order_by(ActivityGroup.name))).all())


def _path_id(request: Request, name: str) -> int | None:
    """The id in the path (None on the "new" pages); a malformed one is a 404."""
    raw = request.path_params.get(name)
    if raw is None:
        return None
    found = parse_id(raw)
    if found is None:
        raise HTTPException(404, "There is no such record.")
    return found


@page(PERMISSION)
async def overview(request: Request) -> Response:
    db: AsyncSession = request.state.db
    activities = (
        await db.scalars(select(Activity).order_by(Activity.group_id, Activity.name))
    ).all()
    counts = dict(
        (
            await db.execute(
                select(Authorization.activity_id, func.count())
                .where(Authorization.status == "pending")
                .group_by(Authorization.activity_id)
            )
        ).all()
    )
    return render(
        request,
        "activities/admin.html",
        {"groups": await _groups(db), "activities": activities, "pending": counts},
    )


@page(PERMISSION)
async def group_form(request: Request) -> Response:
    db: AsyncSession = request.state.db
    group_id = _path_id(request, "group_id")
    group = ActivityGroup(name="", description="", is_active=True)
    if group_id is not None:
        found = await db.get(ActivityGroup, group_id)
        if found is None:
            raise HTTPException(404, "There is no such activity group.")
        group = found
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = FormReader(await request.form())
        name = form.text("name", "Name", required=True)
        description = form.text("description", "Description", max_length=2000)
        active = form.boolean("is_active") if group_id is not None else True
        taken = await db.scalar(
            select(ActivityGroup.id).where(ActivityGroup.name == name, ActivityGroup.id != group.id)
        )
        if taken is not None:
            form.errors["name"] = "There is already an activity group with this name."
        errors = form.errors
        if form.ok:
            before = snapshot(group) if group_id is not None else {}
            group.name, group.description, group.is_active = name, description, active
            db.add(group)
            await db.flush()
            old, new = changes(before, snapshot(group))
            record(
                db,
                actor_id=request.state.user.id,
                action="activity_group.save",
                entity=group,
                before=old,
                after=new,
            )
            # Group names are on every card that shows them.
            await invalidate(
                db, None, reason="activity group saved", actor_id=request.state.user.id
            )
            await db.commit()
            flash(request, f"Activity group “{group.name}” saved.")
            return RedirectResponse("/activities/admin", status_code=303)
    return render(
        request,
        "activities/group_form.html",
        {"group": group, "errors": errors, "is_new": group_id is None},
        status_code=400 if errors else 200,
    )


def _read_activity(form: FormReader, groups: list[ActivityGroup]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": form.text("name", "Name", required=True),
        "group_id": form.choice("group_id", "Group", [str(g.id) for g in groups], required=True),
        "term_months": form.integer("term_months", "Term (months)", minimum=1, maximum=600),
        "minimum_age": form.integer("minimum_age", "Minimum age", minimum=0, maximum=120),
        "maximum_age": form.integer("maximum_age", "Maximum age", minimum=0, maximum=120),
        "approvals_new": form.integer(
            "approvals_new",
            "Approvals for a new authorization",
            required=True,
            minimum=1,
            maximum=10,
        ),
        "approvals_renewal": form.integer(
            "approvals_renewal", "Approvals for a renewal", required=True, minimum=1, maximum=10
        ),
        "authorize_permission": form.choice(
            "authorize_permission",
            "Permission to authorize",
            [p.key for p in permissions.catalogue()],
            required=True,
        ),
        "is_active": form.boolean("is_active"),
    }
    low, high = values["minimum_age"], values["maximum_age"]
    if low is not None and high is not None and low > high:
        form.errors["maximum_age"] = "Maximum age must not be below the minimum age."
    if values["group_id"]:
        values["group_id"] = int(values["group_id"])
    return values


@page(PERMISSION)
async def activity_form(request: Request) -> Response:
    db: AsyncSession = request.state.db
    groups = await _groups(db)
    activity_id = _path_id(request, "activity_id")
    activity = Activity(
        name="",
        approvals_new=1,
        approvals_renewal=1,
        authorize_permission=DEFAULT_AUTHORIZER_PERMISSION,
        is_active=True,
    )
    if activity_id is not None:
        found = await db.get(Activity, activity_id)
        if found is None:
            raise HTTPException(404, "There is no such activity.")
        activity = found
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = FormReader(await request.form())
        values = _read_activity(form, groups)
        if form.ok:
            taken = await db.scalar(
                select(Activity.id).where(
                    Activity.group_id == values["group_id"],
                    Activity.name == values["name"],
                    Activity.id != activity.id,
                )
            )
            if taken is not None:
                form.errors["name"] = "This group already has an activity with this name."
        errors = form.errors
        if form.ok:
            before = snapshot(activity) if activity_id is not None else {}
            for key, value in values.items():
                setattr(activity, key, value)
            db.add(activity)
            try:
                await db.flush()
            except IntegrityError:
                await db.rollback()
                flash(request, "Someone saved a clashing activity meanwhile; try again.", "error")
                return RedirectResponse(request.url.path, status_code=303)
            old, new = changes(before, snapshot(activity))
            record(
                db,
                actor_id=request.state.user.id,
                action="activity.save",
                entity=activity,
                before=old,
                after=new,
            )
            await invalidate(db, None, reason="activity saved", actor_id=request.state.user.id)
            await db.commit()
            flash(request, f"Activity “{activity.name}” saved.")
            return RedirectResponse("/activities/admin", status_code=303)
    return render(
        request,
        "activities/activity_form.html",
        {
            "activity": activity,
            "groups": groups,
            "permissions": permissions.catalogue(),
            "errors": errors,
            "is_new": activity_id is None,
        },
        status_code=400 if errors else 200,
    )


@page(PERMISSION)
async def authorizations(request: Request) -> Response:
    db: AsyncSession = request.state.db
    status = request.query_params.get("status", "")
    query = (
        select(Authorization, Activity, Member)
        .join(Activity, Activity.id == Authorization.activity_id)
        .join(Member, Member.id == Authorization.member_id)
        .order_by(Authorization.id.desc())
        .limit(LIST_LIMIT)
    )
    if status in STATUS_LABELS:
        query = query.where(Authorization.status == status)
    rows = (await db.execute(query)).all()
    return render(
        request,
        "activities/admin_authorizations.html",
        {"rows": rows, "status": status, "statuses": STATUS_LABELS, "limit": LIST_LIMIT},
    )


routes = [
    Route("/activities/admin", overview),
    Route("/activities/admin/groups/new", group_form, methods=["GET", "POST"]),
    Route("/activities/admin/groups/{group_id}", group_form, methods=["GET", "POST"]),
    Route("/activities/admin/activities/new", activity_form, methods=["GET", "POST"]),
    Route("/activities/admin/activities/{activity_id}", activity_form, methods=["GET", "POST"]),
    Route("/activities/admin/authorizations", authorizations),
]
