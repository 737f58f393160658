"""Audit pages: the trail of one member, and the whole log."""

from __future__ import annotations

from sqlalchemy import or_, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.audit.models import AuditEntry
from server.audit.views import PAGE_SIZE, page_of_entries
from server.auth.guards import page
from server.members.lookup import REGISTER_PERMISSIONS, path_member
from server.web.forms import parse_id
from server.web.navigation import NavLink
from server.web.templating import render

# The admin menu's links to this area's pages (``create_app`` adds them).
nav_links = [
    NavLink("Audit log", "/admin/audit", permission="view_reports", order=90),
]


def _page_number(request: Request) -> int:
    return min(parse_id(request.query_params.get("page")) or 1, 100_000)


@page(REGISTER_PERMISSIONS)
async def member_audit(request: Request) -> Response:
    member = await path_member(request)
    query = select(AuditEntry).where(
        or_(
            AuditEntry.member_id == member.id,
            (AuditEntry.entity_type == "members") & (AuditEntry.entity_id == member.id),
        )
    )
    number = _page_number(request)
    entries, total = await page_of_entries(request.state.db, query, number)
    return render(
        request,
        "audit/member.html",
        {
            "member": member,
            "entries": entries,
            "total": total,
            "page": number,
            "pages": max(1, -(-total // PAGE_SIZE)),
        },
    )


@page("view_reports")
async def audit_log(request: Request) -> Response:
    action = request.query_params.get("action", "").strip()[:80].replace("\x00", "")
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    number = _page_number(request)
    entries, total = await page_of_entries(request.state.db, query, number)
    return render(
        request,
        "audit/log.html",
        {
            "entries": entries,
            "total": total,
            "page": number,
            "action": action,
            "pages": max(1, -(-total // PAGE_SIZE)),
        },
    )


routes = [
    Route("/members/{member_id}/audit", member_audit, methods=["GET"]),
    Route("/admin/audit", audit_log, methods=["GET"]),
]
