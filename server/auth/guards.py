"""The decorator every page uses: database session, current user, permission check.

``@page()`` needs a logged-in member; ``@page(anonymous=True)`` lets anyone in;
``@page(staff=True)`` needs admin-area access (a current group membership, computed
live, or superuser); ``@page("manage_members")`` needs that
permission (and implies staff); ``@page(("a", "b"))`` needs either of them. The check happens on the server for every request,
whatever the UI showed.

Refusals: a page sends an anonymous GET to the login page and answers the rest with
an error page. A JSON endpoint, one declared ``@page(..., json=True)`` or any request
that wants JSON (a ``.json`` address, or ``Accept: application/json`` first), is
answered in JSON instead, never with a redirect a script would follow into HTML:
401 ``{"error": "login_required", ...}`` or 403 ``{"error": "staff_only" |
"permission_required", ...}``, each with a ``message`` to show people.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server import clock
from server.auth import permissions
from server.auth.access import is_staff, permissions_of
from server.auth.current import current_user
from server.checks.checker import find_checker
from server.database import utcnow
from server.members.models import Member
from server.settings.store import load_settings
from server.web.errors import wants_json

Endpoint = Callable[[Request], Awaitable[Response]]


def _label(key: str) -> str:
    found = permissions.get(key)
    return found.label if found is not None else key


def _refuse(status: int, error: str, message: str, as_json: bool, **extra: object) -> Response:
    """The JSON refusal; for pages, raise so the error-page handler renders it."""
    if not as_json:
        raise HTTPException(status, message)
    return JSONResponse(
        {"error": error, "message": message, "status": status, **extra},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


async def _who(
    request: Request, db: AsyncSession, today: dt.date
) -> tuple[Member | None, frozenset[str], bool]:
    """The user, their permissions and whether they are staff: from the hot connection
    (``server.checks.checker``, the same rules in one indexed read) unless the session
    is to be written — its last-seen time is due, or it ended and the cookie goes."""
    hot = getattr(request.app.state, "hot", None)
    if hot is not None and "session" in request.scope:
        found = await find_checker(hot, request.session.get("sid"), utcnow(), today)
        if found is not None and not found.touch_due:
            member = await db.get(Member, found.member_id)
            if member is not None:
                return member, found.permissions, found.staff
    user = await current_user(request, db)
    if user is None:
        return None, frozenset(), False
    return user, await permissions_of(db, user, today), await is_staff(db, user, today)


def page(
    permission: str | tuple[str, ...] | None = None,
    *,
    staff: bool = False,
    anonymous: bool = False,
    json: bool = False,
) -> Callable[[Endpoint], Endpoint]:
    needed = (permission,) if isinstance(permission, str) else (permission or ())

    def decorator(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            async with request.app.state.sessionmaker() as db:
                request.state.db = db
                request.state.site = site = await load_settings(db)
                user, perms, staff_member = await _who(request, db, clock.today(site))
                request.state.user = user
                request.state.perms = perms
                request.state.is_staff = staff_member
                request.state.is_superuser = user is not None and user.is_superuser
                as_json = json or wants_json(request)
                if user is None and not anonymous:
                    if request.method in ("GET", "HEAD") and not as_json:
                        target = quote(request.url.path, safe="/")
                        return RedirectResponse(f"/login?next={target}", status_code=303)
                    return _refuse(401, "login_required", "Please log in first.", as_json)
                if user is not None and (staff or permission):
                    if not request.state.is_staff:
                        return _refuse(403, "staff_only", "This page is for staff only.", as_json)
                    if needed and request.state.perms.isdisjoint(needed):
                        names = "” or “".join(_label(key) for key in needed)
                        return _refuse(
                            403,
                            "permission_required",
                            f"You need the permission “{names}” for this page.",
                            as_json,
                            permissions=list(needed),
                        )
                return await endpoint(request)

        return wrapper

    return decorator
