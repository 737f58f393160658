"""The start page: a dashboard for staff (the work waiting for them); members go to /me."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.auth.guards import page
from server.home.work import work_for
from server.mail.standing import standing_for
from server.members.lookup import REGISTER_PERMISSIONS
from server.members.models import Member
from server.members.status import STATUSES
from server.web.templating import nav_links_for, render


@page()
async def home(request: Request) -> Response:
    if not request.state.is_staff:
        return RedirectResponse("/me", status_code=303)
    db = request.state.db
    perms = request.state.perms
    work = await work_for(
        db, request.state.user, perms, clock.today(request.state.site), nav_links_for(request)
    )
    counts: list[tuple[str, str, int]] = []
    if not perms.isdisjoint(REGISTER_PERMISSIONS):
        rows = dict(
            (
                await db.execute(
                    select(Member.status, func.count())
                    .where(Member.deleted_at.is_(None))
                    .group_by(Member.status)
                )
            ).all()
        )
        counts = [(s.key, s.label, rows.get(s.key, 0)) for s in STATUSES]
    my_mail = None
    if "issue_card_links" in request.state.perms:
        my_mail = await standing_for(request.state.db, request.state.user.id)
    return render(
        request, "home/dashboard.html", {"work": work, "counts": counts, "my_mail": my_mail}
    )


routes = [Route("/", home, methods=["GET"])]
