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
"""

from __future__ import annotations

import functools
import os

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from server.web.headers import default_headers
from server.web.one_write import OneWriteHttpToolsProtocol


@functools.cache
def _https() -> bool:
    return os.environ.get("BASE_URL", "").strip().lower().startswith("https://")


class TesseraHttpProtocol(OneWriteHttpToolsProtocol):
    """uvicorn's httptools protocol, writing each response at once, whose own 400 answer
    carries the security headers."""

    def send_400_response(self, msg: str) -> None:
        content = [STATUS_LINE[400]]
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
