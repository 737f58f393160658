"""The decorator every page uses: database session, current user, permission check.

``@page()`` needs a logged-in member; ``@page(anonymous=True)`` lets anyone in;
``@page(staff=True)`` needs admin-area access (a current group membership, computed
live, or superuser); ``@page("manage_members")`` needs that
permission (and implies staff); ``@page(("a", "b"))`` needs either of them. The check happens on the server for every request,
whatever the UI showed.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth.access import is_staff, permissions_of
from server.auth.current import current_user
from server.settings.store import load_settings

Endpoint = Callable[[Request], Awaitable[Response]]


def page(
    permission: str | tuple[str, ...] | None = None,
    *,
    staff: bool = False,
    anonymous: bool = False,
) -> Callable[[Endpoint], Endpoint]:
    needed = (permission,) if isinstance(permission, str) else (permission or ())

    def decorator(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            async with request.app.state.sessionmaker() as db:
                request.state.db = db
                user = await current_user(request, db)
                request.state.user = user
                request.state.perms = await permissions_of(db, user)
                request.state.site = await load_settings(db)
                request.state.is_staff = user is not None and await is_staff(db, user)
                if user is None and not anonymous:
                    if request.method == "GET":
                        target = quote(request.url.path, safe="/")
                        return RedirectResponse(f"/login?next={target}", status_code=303)
                    raise HTTPException(401, "Please log in first.")
                if user is not None and (staff or permission):
                    if not request.state.is_staff:
                        raise HTTPException(403, "This page is for staff only.")
                    if needed and request.state.perms.isdisjoint(needed):
                        names = "' or '".join(needed)
                        raise HTTPException(
                            403, f"You need the '{names}' permission for this page."
                        )
                return await endpoint(request)

        wrapper.guard = (permission, staff, anonymous)  # type: ignore[attr-defined]
        return wrapper

    return decorator
