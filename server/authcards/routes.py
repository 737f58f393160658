"""``/members/{id}/auth-card`` (one member) and ``/auth-cards`` (batch printing)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import clock
from server.auth.guards import page
from server.authcards.cards import build_cards
from server.members.models import Branch, Member
from server.members.status import STATUSES, is_adult
from server.web.forms import parse_id
from server.web.navigation import REGISTER, NavLink
from server.web.templating import render

# "any": the sheet names no page size, so the browser prints at 100 % on whatever paper the
# printer has (a sheet that names A4 is shrunk to 94 % on Letter, and its marks with it).
PAPERS = {"any": "The printer's paper", "a4": "A4", "letter": "Letter"}
BATCH_LIMIT = 2000
# Batch printing leaves deactivated members out unless their status is ticked.
DEFAULT_STATUSES = tuple(s.key for s in STATUSES if not s.deactivated)


def _paper(request: Request) -> str:
    paper = request.query_params.get("paper", "any")
    return paper if paper in PAPERS else "any"


def may_print(user: Member, perms: frozenset[str], member: Member, today: dt.date) -> bool:
    """The member, the parent of a minor, or staff with ``manage_members``."""
    if user.id == member.id or "manage_members" in perms:
        return True
    minor = not is_adult(member.birth_month, member.birth_year, today)
    return minor and member.parent_id == user.id


@page()
async def auth_card(request: Request) -> Response:
    db: AsyncSession = request.state.db
    today = clock.today(request.state.site)
    member_id = parse_id(request.path_params["member_id"])
    member = None if member_id is None else await db.get(Member, member_id)
    if member is None or member.is_deleted:
        raise HTTPException(404, "There is no such member.")
    if not may_print(request.state.user, request.state.perms, member, today):
        raise HTTPException(403, "You can print your own auth card, or your minor child's.")
    cards = await build_cards(db, [member], today, request.app.state.settings.base_url)
    return render(
        request,
        "authcards/print.html",
        {
            "cards": cards,
            "paper": _paper(request),
            "papers": PAPERS,
            "title": f"Auth card — {member.display_name}",
        },
    )


async def _branch_and_below(db: AsyncSession, branch_id: int) -> list[int]:
    rows = (await db.execute(select(Branch.id, Branch.parent_id))).all()
    children: dict[int | None, list[int]] = {}
    for child, parent in rows:
        children.setdefault(parent, []).append(child)
    found, todo = [], [branch_id]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _statuses(request: Request) -> tuple[list[str], str]:
    """The statuses to print (the ticked ones; by default all but deactivated), or an error."""
    chosen = request.query_params.getlist("status")
    if not chosen:
        return list(DEFAULT_STATUSES), ""
    known = {s.key for s in STATUSES}
    if any(key not in known for key in chosen):
        return [], "Choose statuses from the list."
    return chosen, ""


def _ids(raw: str) -> tuple[list[int], str]:
    """The member ids asked for (each once), or an error: whole numbers, at most
    ``BATCH_LIMIT`` of them (more could never print, and each is a query parameter)."""
    parts = [p.strip() for p in raw.replace("\n", ",").split(",") if p.strip()]
    if len(parts) > BATCH_LIMIT:
        return [], f"At most {BATCH_LIMIT} member ids at once; you gave {len(parts)}."
    ids = [parse_id(p) for p in parts]
    if any(i is None for i in ids):
        return [], "Member ids must be whole numbers separated by commas."
    return sorted({i for i in ids if i is not None}), ""


@page("manage_members")
async def batch(request: Request) -> Response:
    db: AsyncSession = request.state.db
    today = clock.today(request.state.site)
    branches = (await db.scalars(select(Branch).order_by(Branch.name))).all()
    params = request.query_params
    form = {"branches": branches, "statuses": STATUSES, "default_statuses": DEFAULT_STATUSES}
    query = select(Member).where(Member.deleted_at.is_(None))
    statuses, error = _statuses(request)
    if params.get("ids"):
        ids, ids_error = _ids(params["ids"])
        error = error or ids_error
        query = query.where(Member.id.in_(ids))
    elif params.get("branch"):
        branch_id = parse_id(params["branch"])
        if branch_id is None or branch_id not in {b.id for b in branches}:
            error = "Choose one of the listed branches."
        else:
            query = query.where(Member.branch_id.in_(await _branch_and_below(db, branch_id)))
    else:
        return render(request, "authcards/batch.html", form)
    if error:
        return render(request, "authcards/batch.html", {**form, "error": error}, status_code=400)
    left_out = await db.scalar(
        select(func.count()).select_from(query.where(Member.status.not_in(statuses)).subquery())
    )
    query = query.where(Member.status.in_(statuses))
    members = list(
        (await db.scalars(query.order_by(Member.sca_name, Member.id).limit(BATCH_LIMIT + 1))).all()
    )
    if len(members) > BATCH_LIMIT:
        return render(
            request,
            "authcards/batch.html",
            {**form, "error": f"At most {BATCH_LIMIT} cards at once; pick a smaller branch."},
            status_code=400,
        )
    cards = await build_cards(db, members, today, request.app.state.settings.base_url)
    return render(
        request,
        "authcards/print.html",
        {
            "cards": cards,
            "paper": _paper(request),
            "papers": PAPERS,
            "title": f"{len(cards)} auth cards",
            "left_out": left_out or 0,
            "statuses_printed": [s.label for s in STATUSES if s.key in statuses],
        },
    )


# The admin menu's links to this area's pages (``create_app`` adds them).
nav_links = [
    NavLink(
        "Print auth cards", "/auth-cards", permission="manage_members", order=45, group=REGISTER
    ),
]

routes = [
    Route("/members/{member_id}/auth-card", auth_card),
    Route("/auth-cards", batch),
]
