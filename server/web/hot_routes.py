"""The hot routes, answered before the session, CSRF and routing layers (pure ASGI).

The card app's refresh (``/card/{token}.json``) and the marshal's check
(``/check/{code}``) are most of a busy day's requests. Neither needs what the layers
between the access log and the endpoint do for a page: no session is read (the card's
paths are sessionless; a check is answered here only when the request carries no
session cookie, so nobody is logged in), a GET needs no CSRF token, and the router
would only find the same route. Those layers cost about as much as the endpoint
itself, so a hot route is matched here, by the very ``Route`` object the router holds
(``Route.matches``: the same path parameters, the same methods), and its endpoint is
called directly. The security headers are added as ``SecurityHeadersMiddleware`` adds
them (``server.web.headers.add_defaults``).

Anything that does not match — another path, a HEAD or POST, a check sent with a session
cookie (a logged-in marshal) — goes on through the whole stack. So does a request whose
endpoint raises: nothing was sent yet, and the whole stack answers it again with its
own error handling (503 with ``Retry-After`` for a busy database, the error page).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from server.web.headers import add_defaults, default_headers
from server.web.sessions import COOKIE_NAME

log = logging.getLogger("tessera.web")
SESSION_COOKIE = COOKIE_NAME.encode()


def _has_session_cookie(scope: Scope) -> bool:
    """Whether a cookie header names the session cookie at all (when in doubt, the
    session layer decides)."""
    return any(name == b"cookie" and SESSION_COOKIE in value for name, value in scope["headers"])


class HotRoutes:
    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[Route],
        sessionless: tuple[str, ...],
        https: bool = False,
    ) -> None:
        self.app = app
        self.routes = tuple(routes)
        self.sessionless = sessionless
        self.defaults = default_headers(https)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            for route in self.routes:
                match, child_scope = route.matches(scope)
                if match is not Match.FULL:
                    continue
                if not scope["path"].startswith(self.sessionless) and _has_session_cookie(scope):
                    break  # someone may be logged in: the session layer reads who
                scope.update(child_scope)
                try:
                    response = await route.endpoint(Request(scope, receive, send))
                except Exception as exc:
                    # Not the exception itself: its text may hold the statement's values.
                    log.debug("%s: %s; the full stack answers", route.path, type(exc).__name__)
                    break
                add_defaults(response.raw_headers, self.defaults)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
