"""The branch tree admin page: add, rename and move branches (kingdom → … → shire)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.audit.log import changes, record, snapshot
from server.auth.guards import page
from server.db.transactions import lock_table
from server.members.branches import all_branches, branch_options, subtree_ids, tree_order
from server.members.models import Branch, Member
from server.web.forms import FormReader, parse_id
from server.web.navigation import NavLink
from server.web.seen import STALE, fingerprint, stale
from server.web.templating import flash, render

# The admin menu's links to this area's pages (``create_app`` adds them).
nav_links = [
    NavLink("Branches", "/branches", permission="manage_settings", order=75),
]
KINDS = (
    "kingdom",
    "principality",
    "barony",
    "province",
    "shire",
    "canton",
    "college",
    "stronghold",
)
EDITABLE = ["name", "kind", "parent_id"]  # what the edit page shows and saves


def _read(form: FormReader, branches: list[Branch], branch: Branch | None) -> dict[str, Any]:
    name = form.text("name", "Name", required=True, max_length=200)
    kind = form.choice("kind", "Kind", KINDS, required=True)
    allowed = {b.id for b in branches}
    if branch is not None:
        allowed -= subtree_ids(branches, branch.id)  # no branch under itself
    parent = form.choice("parent_id", "Part of", [str(i) for i in allowed])
    taken = {b.name.lower() for b in branches if branch is None or b.id != branch.id}
    if name and name.lower() in taken:
        form.errors["name"] = "Another branch already has this name."
    return {"name": name, "kind": kind, "parent_id": int(parent) if parent else None}


async def _page(
    request: Request, errors: dict[str, str] | None = None, values: Any = None, status: int = 200
) -> Response:
    db = request.state.db
    branches = await all_branches(db)
    counts = dict(
        (
            await db.execute(
                select(Member.branch_id, func.count())
                .where(Member.deleted_at.is_(None))
                .group_by(Member.branch_id)
            )
        ).all()
    )
    return render(
        request,
        "members/branches.html",
        {
            "tree": tree_order(branches),
            "counts": counts,
            "options": branch_options(branches),
            "kinds": KINDS,
            "errors": errors or {},
            "values": values,
        },
        status_code=status,
    )


@page("manage_settings")
async def branch_list(request: Request) -> Response:
    if request.method != "POST":
        return await _page(request)
    db = request.state.db
    form = FormReader(await request.form())
    await lock_table(db, Branch.__tablename__)  # the same name added twice at once: once
    values = _read(form, await all_branches(db), None)
    if not form.ok:
        return await _page(request, form.errors, form.form, 400)
    branch = Branch(**values)
    db.add(branch)
    await db.flush()
    record(
        db,
        actor_id=request.state.user.id,
        action="branch.create",
        entity=branch,
        after=snapshot(branch),
    )
    await db.commit()
    flash(request, f"Branch {branch.name} added.")
    return RedirectResponse("/branches", status_code=303)


@page("manage_settings")
async def branch_edit(request: Request) -> Response:
    db = request.state.db
    branch_id = parse_id(request.path_params.get("branch_id"))
    branch = None if branch_id is None else await db.get(Branch, branch_id)
    if branch is None:
        raise HTTPException(404, "There is no such branch.")
    branches = await all_branches(db)
    context: dict[str, Any] = {
        "branch": branch,
        "kinds": KINDS,
        "options": [
            o for o in branch_options(branches) if int(o[0]) not in subtree_ids(branches, branch.id)
        ],
        "errors": {},
        "values": None,
        "seen": fingerprint(snapshot(branch, EDITABLE)),
    }
    if request.method != "POST":
        return render(request, "members/branch_edit.html", context)
    form = FormReader(await request.form())
    await lock_table(db, Branch.__tablename__)
    await db.refresh(branch)  # as it is now, under the lock
    if stale(form.raw("seen"), snapshot(branch, EDITABLE)):
        # Another officer saved since this page was drawn: saving would undo their change.
        context.update(errors={"form": STALE}, seen=fingerprint(snapshot(branch, EDITABLE)))
        return render(request, "members/branch_edit.html", context, status_code=409)
    branches = await all_branches(db)  # as they are now, under the lock
    values = _read(form, branches, branch)
    if not form.ok:
        context.update(errors=form.errors, values=form.form)
        return render(request, "members/branch_edit.html", context, status_code=400)
    before = snapshot(branch)
    for key, value in values.items():
        setattr(branch, key, value)
    old, new = changes(before, snapshot(branch))
    if new:
        record(
            db,
            actor_id=request.state.user.id,
            action="branch.update",
            entity=branch,
            before=old,
            after=new,
        )
    await db.commit()
    flash(request, f"Branch {branch.name} saved." if new else "Nothing changed.")
    return RedirectResponse("/branches", status_code=303)


routes = [
    Route("/branches", branch_list, methods=["GET", "POST"]),
    Route("/branches/{branch_id}/edit", branch_edit, methods=["GET", "POST"]),
]
