"""Strict security headers on every response (routes may tighten, never loosen)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# An image opened on its own (a member's photo, a membership card at full size): the
# browser shows it in a page of its own that it styles inline; nothing else may load.
IMAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; sandbox"
}
DEFAULTS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(), microphone=(), camera=(self)",
}
RAW_DEFAULTS = [(name.lower().encode(), value.encode()) for name, value in DEFAULTS.items()]
# Sent when BASE_URL is https: browsers then never try plain http for a year.
HSTS = (b"strict-transport-security", b"max-age=31536000")


RawHeaders = list[tuple[bytes, bytes]]


def default_headers(https: bool) -> RawHeaders:
    """The headers every response gets unless it sets them itself."""
    return [*RAW_DEFAULTS, HSTS] if https else RAW_DEFAULTS


def add_defaults(raw: RawHeaders, defaults: RawHeaders) -> None:
    """Add to ``raw`` (a response's headers) each of ``defaults`` it does not set."""
    present = {name.lower() for name, _ in raw}
    raw.extend(item for item in defaults if item[0] not in present)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.defaults = default_headers(https)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = message["headers"] = list(message.get("headers", ()))
                add_defaults(raw, self.defaults)
            await send(message)

        await self.app(scope, receive, send_wrapper)
