"""CSRF protection: every unsafe request carries the session's token.

The token travels as the ``csrf_token`` form field (every form template includes it)
or, for scripts, the ``X-CSRF-Token`` header. A request without a valid token is
answered with a 403 page before any endpoint runs, and so is one whose body is larger
than ``MAX_BODY``, whichever way its token came.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FIELD = "csrf_token"
HEADER = b"x-csrf-token"
MAX_BODY = 8 * 1024 * 1024


def csrf_token(session: dict[str, Any]) -> str:
    """The session's token, created on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _form_token(scope: Scope, body: bytes) -> str | None:
    parsed_headers = Headers(raw=scope["headers"])
    content_type = parsed_headers.get("content-type", "")

    async def stream() -> AsyncGenerator[bytes, None]:
        yield body
        yield b""

    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = await FormParser(parsed_headers, stream()).parse()
        elif content_type.startswith("multipart/form-data"):
            form = await MultiPartParser(parsed_headers, stream(), max_part_size=MAX_BODY).parse()
        else:
            return None
    except (MultiPartException, ValueError, KeyError):
        return None
    value = form.get(FIELD)
    await form.close()
    return value if isinstance(value, str) else None


class CSRFMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        reject: Callable[[Request, str], Awaitable[Response]] | None = None,
        exempt_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.reject = reject
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or scope["path"].startswith(self.exempt_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        expected = scope.get("session", {}).get("csrf")
        header_token = dict(scope["headers"]).get(HEADER)
        given: str | None = None
        if header_token is not None:
            given = header_token.decode("latin-1")
        # The body is read (at most ``MAX_BODY`` of it) whichever way the token came: a
        # script's header token does not let a body of any size through to the endpoint.
        # Only a request whose header token is wrong is refused unread.
        body: bytes | None = b""
        if given is None or _same(expected, given):
            body = await _read_body(receive)
        if given is None and body is not None:
            given = await _form_token(scope, body)
        if body is None or not _same(expected, given):
            reason = (
                "The form was too large."
                if body is None
                else "This form has expired or did not come from this site. "
                "Go back, reload the page and try again."
            )
            response: Response
            if self.reject is not None:
                response = await self.reject(Request(scope), reason)
            else:
                response = PlainTextResponse(reason, status_code=403)
            await response(scope, receive, send)
            return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _same(expected: object, given: str | None) -> bool:
    """Whether ``given`` is the session's token (compared in constant time)."""
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and hmac.compare_digest(expected.encode(), given.encode())
    )
