"""The outbox viewer: superusers read queued and sent mail (links clickable, seals opened)
and send failed mail again (one message, or every failed one)."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth.guards import page
from server.mail.models import OutboxMessage
from server.mail.retry import can_retry, retry_failed, retry_message
from server.web import navigation
from server.web.forms import parse_id
from server.web.navigation import NavLink
from server.web.templating import flash, render

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
    failed = await db.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "failed")
    )
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
            "failed": failed or 0,
            "can_retry": can_retry,
        },
    )


@page(staff=True)
async def outbox_message(request: Request) -> Response:
    _superuser_only(request)
    message_id = parse_id(request.path_params.get("message_id"))
    message = None if message_id is None else await request.state.db.get(OutboxMessage, message_id)
    if message is None:
        raise HTTPException(404, "There is no such message.")
    response = render(
        request, "outbox/message.html", {"message": message, "can_retry": can_retry(message)}
    )
    response.headers["Referrer-Policy"] = "no-referrer"  # the links are bearer tokens
    response.headers["Cache-Control"] = "no-store"
    return response


@page(staff=True)
async def outbox_retry(request: Request) -> Response:
    _superuser_only(request)
    db = request.state.db
    message_id = parse_id(request.path_params.get("message_id"))
    message = None if message_id is None else await db.get(OutboxMessage, message_id)
    if message is None:
        raise HTTPException(404, "There is no such message.")
    message_id, status = message.id, message.status
    if await retry_message(db, message_id, request.state.user.id):
        await db.commit()
        flash(request, "The message is queued and will be sent within a few seconds.")
    else:
        await db.rollback()
        flash(request, f"This message is {status}: there is nothing to retry.", "error")
    return RedirectResponse(f"/admin/outbox/{message_id}", status_code=303)


@page(staff=True)
async def outbox_retry_failed(request: Request) -> Response:
    _superuser_only(request)
    db = request.state.db
    count = await retry_failed(db, request.state.user.id)
    await db.commit()
    if count:
        flash(request, f"{count} failed message{'s are' if count != 1 else ' is'} queued again.")
    else:
        flash(request, "There are no failed messages to retry.")
    return RedirectResponse("/admin/outbox?status=failed", status_code=303)


routes = [
    Route("/admin/outbox", outbox_list, methods=["GET"]),
    Route("/admin/outbox/retry-failed", outbox_retry_failed, methods=["POST"]),
    Route("/admin/outbox/{message_id}", outbox_message, methods=["GET"]),
    Route("/admin/outbox/{message_id}/retry", outbox_retry, methods=["POST"]),
]

# The admin menu's links to this area's pages (``create_app`` adds them).
nav_links = [
    NavLink(
        "Outbox",
        "/admin/outbox",
        order=95,
        group=navigation.ADMINISTRATION,
        superuser_only=True,
    ),
]
