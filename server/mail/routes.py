"""The outbox viewer: superusers read queued and sent mail (links clickable, seals opened)."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.auth.guards import page
from server.mail.models import OutboxMessage
from server.web import navigation
from server.web.forms import parse_id
from server.web.navigation import NavLink
from server.web.templating import render

# Mail holds password-reset and card links: only superusers may read it (the
# dashboard links here for them).
PAGE_SIZE = 50
STATUSES = ("queued", "sending", "sent", "failed")


def _superuser_only(request: Request) -> None:
    if not request.state.user.is_superuser:
        raise HTTPException(403, "Only a superuser may read the outbox: it holds personal links.")


@page(staff=True)
async def outbox_list(request: Request) -> Response:
    _superuser_only(request)
    db = request.state.db
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    number = min(parse_id(request.query_params.get("page")) or 1, 100_000)
    query = select(OutboxMessage)
    if status:
        query = query.where(OutboxMessage.status == status)
    total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
    messages = (
        await db.execute(
            query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(PAGE_SIZE)
            .offset((number - 1) * PAGE_SIZE)
        )
    ).scalars()
    return render(
        request,
        "outbox/list.html",
        {
            "messages": list(messages),
            "status": status,
            "statuses": STATUSES,
            "total": total,
            "page": number,
            "pages": max(1, -(-total // PAGE_SIZE)),
        },
    )


@page(staff=True)
async def outbox_message(request: Request) -> Response:
    _superuser_only(request)
    message_id = parse_id(request.path_params.get("message_id"))
    message = None if message_id is None else await request.state.db.get(OutboxMessage, message_id)
    if message is None:
        raise HTTPException(404, "There is no such message.")
    response = render(request, "outbox/message.html", {"message": message})
    response.headers["Referrer-Policy"] = "no-referrer"  # the links are bearer tokens
    response.headers["Cache-Control"] = "no-store"
    return response


routes = [
    Route("/admin/outbox", outbox_list, methods=["GET"]),
    Route("/admin/outbox/{message_id}", outbox_message, methods=["GET"]),
]

navigation.add(
    NavLink(
        "Outbox",
        "/admin/outbox",
        order=95,
        group=navigation.ADMINISTRATION,
        superuser_only=True,
    )
)
