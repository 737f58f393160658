"""The hot routes, answered before the security-header, CSRF and routing layers (pure ASGI).

The card app's refresh (``/card/{token}.json``) and the marshal's check
(``/check/{code}``) are most of a busy day's requests. Neither needs what the layers
between the access log and the endpoint do for a page: the card's paths are sessionless,
a GET needs no CSRF token, and the router would only find the same route. Those layers
cost about as much as the endpoint itself, so a hot route is matched here, by the very
``Route`` object the router holds (``Route.matches``: the same path parameters, the same
methods), and its endpoint is called directly. The security headers are added as
``SecurityHeadersMiddleware`` adds them (``server.web.headers.add_defaults``). A check
that carries a session cookie (a logged-in marshal's scanner) is answered inside the
session layer itself (``SessionMiddleware`` around the endpoint): the same cookie read,
the same cookie written back when the session changed.

Anything that does not match — another path, a HEAD or POST — goes on through the whole
stack. So does a request whose endpoint raises: nothing was sent yet, and the whole stack
answers it again with its own error handling (503 with ``Retry-After`` for a busy
database, the error page).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from server.web.headers import add_defaults, default_headers
from server.web.sessions import COOKIE_NAME, SessionMiddleware

log = logging.getLogger("tessera.web")
SESSION_COOKIE = COOKIE_NAME.encode()


def _has_session_cookie(scope: Scope) -> bool:
    """Whether a cookie header names the session cookie at all (when in doubt, the
    session layer decides)."""
    return any(name == b"cookie" and SESSION_COOKIE in value for name, value in scope["headers"])


class _Unanswered(Exception):
    """The endpoint raised: the whole stack answers instead."""


class HotRoutes:
    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[Route],
        sessionless: tuple[str, ...],
        secret_key: str,
        https: bool = False,
    ) -> None:
        self.app = app
        self.routes = tuple(routes)
        self.sessionless = sessionless
        self.defaults = default_headers(https)
        self.in_session = SessionMiddleware(self._answer, secret_key, https_only=https)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            for route in self.routes:
                match, child_scope = route.matches(scope)
                if match is not Match.FULL:
                    continue
                scope.update(child_scope)
                answer: ASGIApp = self._answer
                if not scope["path"].startswith(self.sessionless) and _has_session_cookie(scope):
                    answer = self.in_session  # someone may be logged in: read who
                try:
                    await answer(scope, receive, send)
                except _Unanswered:
                    break
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await scope["endpoint"](Request(scope, receive, send))
        except Exception as exc:
            # Neither the path (a card token, a check code) nor the exception's text (it may
            # hold the statement's values).
            log.debug("a hot route's endpoint: %s; the full stack answers", type(exc).__name__)
            raise _Unanswered from None
        add_defaults(response.raw_headers, self.defaults)
        await response(scope, receive, send)
