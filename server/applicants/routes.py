"""Public registration: ``/register`` (on/off by setting, rate-limited per address)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import clock
from server.applicants.registration import read_registration, submit_application
from server.auth.guards import page
from server.member_codes.routes import branch_options
from server.web.forms import FormReader
from server.web.ratelimit import RateLimiter, client_key
from server.web.templating import render

register_limiter = RateLimiter(limit=20, window=3600)


def _form(
    request: Request, branches: list[tuple[int, str]], values: dict[str, Any], **extra: Any
) -> Response:
    status = 400 if extra.get("errors") else 200
    context = {"branches": branches, "values": values, "errors": {}, **extra}
    return render(request, "applicants/register.html", context, status_code=status)


@page(anonymous=True)
async def register(request: Request) -> Response:
    if not request.state.site["registration_open"]:
        return render(request, "applicants/closed.html", status_code=404)
    db = request.state.db
    branches = await branch_options(db)
    if request.method != "POST":
        return _form(request, branches, {})
    key = client_key(request.client)
    wait = register_limiter.retry_after(key)
    if wait:
        response = render(request, "applicants/closed.html", {"limited": True}, status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    register_limiter.hit(key)
    form = FormReader(await request.form())
    today = clock.today(request.state.site)
    reg = await read_registration(db, form, today, has_branches=bool(branches))
    if not reg.ok:
        values = {**dict(form.form), **{k: v for k, v in reg.values.items() if v is not None}}
        return _form(
            request,
            branches,
            values,
            errors=reg.errors,
            offer_override=reg.offer_override or reg.code_override,
            override_checked=form.boolean("code_override"),
            notes=reg.notes,
        )
    applicant = await submit_application(db, reg, request.state.site, today)
    await db.commit()
    return render(
        request, "applicants/registered.html", {"applicant": applicant, "notes": reg.notes}
    )


routes = [Route("/register", register, methods=["GET", "POST"])]
