"""The HTTP protocol ``serve`` runs: one write per response (``server.web.one_write``),
and the security headers on the one answer uvicorn gives by itself.

A request uvicorn cannot parse (a malformed request line or header, an invalid
``Content-Length``) never reaches the app: uvicorn answers it "400 Invalid HTTP request
received." on its own, without the headers ``SecurityHeadersMiddleware`` puts on every
other answer. Here that answer carries them too (HSTS as well when ``BASE_URL`` is
https), so no response of the server goes out without them.

Tessera has no WebSocket route, and ``serve`` runs uvicorn without WebSockets
(``ws="none"``): a handshake (``Upgrade: websocket``) is answered as the plain GET it also
is, through the whole app (its headers, its access log). uvicorn otherwise rejected it
with a bare 403 of its own, without those headers, and logged it with the client's
address; nor is the operator warned, for each such request, that a WebSocket library is
missing.

A request's head (its request line and headers) may be at most ``MAX_HEAD_BYTES``:
httptools gathers a header of any length before uvicorn sees it (a cookie of 200 MB,
sent and never finished, held 200 MB of the worker's memory), where a proxy in front
stops at a few kilobytes. A longer head is answered "431 Request Header Fields Too
Large" and the connection closed.
"""

from __future__ import annotations

import asyncio
import functools
import os

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from server.web.headers import default_headers
from server.web.one_write import OneWriteHttpToolsProtocol

# Browsers send a few kilobytes; nginx refuses a header line over 8 KB, and heads over
# 4 of them, by default.
MAX_HEAD_BYTES = 64 * 1024


@functools.cache
def _https() -> bool:
    return os.environ.get("BASE_URL", "").strip().lower().startswith("https://")


class TesseraHttpProtocol(OneWriteHttpToolsProtocol):
    """uvicorn's httptools protocol, writing each response at once, whose own answers
    carry the security headers, and that refuses a head over ``MAX_HEAD_BYTES``."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._head_bytes = 0  # of the request whose head is being read, counted so far
        self._in_head = True
        self._head_began_in_chunk = True

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._in_head = True
        # The bytes of the chunk this request began in may be the previous request's
        # body (pipelining): that chunk is not counted, so no legal request is refused.
        self._head_began_in_chunk = True

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        self._head_began_in_chunk = False
        super().data_received(data)
        if not self._in_head or self._head_began_in_chunk or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self.logger.warning("Request head over %d KB: refused.", MAX_HEAD_BYTES // 1024)
            self._answer_by_itself(431, "Request headers too large.")

    def send_400_response(self, msg: str) -> None:
        self._answer_by_itself(400, msg)

    def _answer_by_itself(self, status: int, msg: str) -> None:
        """An answer before the app has the request (it never will), then close."""
        content = [STATUS_LINE[status]]
        for name, value in [*self.server_state.default_headers, *default_headers(_https())]:
            content.extend([name, b": ", value, b"\r\n"])
        body = msg.encode("ascii")
        content.extend(
            [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()

    def _unsupported_upgrade_warning(self) -> None:
        """An ``Upgrade`` Tessera does not take (any: it serves no WebSocket, no h2c) is
        answered as plain HTTP, and the access log has its line: nothing to warn about."""
