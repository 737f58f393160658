"""Each response leaves in one write: uvicorn's HTTP protocol, with what a connection
is sent during one turn of the event loop gathered and written at the end of that turn.

uvicorn writes a response's status line and headers, then its body, with two
``transport.write`` calls. With ``TCP_NODELAY`` (asyncio's default) each is a system
call and a packet of its own, sent at once: the client wakes up twice for one answer,
and on a busy server every answer leaves alone, each waking its client in the middle of
the loop's round. Node's HTTP server corks its sockets and uncorks them on the next tick
for the same reason; this is that: writes to one connection are held and leave in one
``write`` when the loop's current round of callbacks is over (``call_soon``). Nothing
waits longer than that round; order is kept; closing the connection first sends what
is held, and aborting it drops it, as a transport does.

For the small answers of a busy day (a card's JSON, a marshal's check page) it saves a
third of the server's CPU per request (README, "Running in production"). ``serve`` runs
uvicorn with ``http=OneWriteHttpToolsProtocol``.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class RoundWrites:
    """A transport whose writes during one turn of the loop leave together after it."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.release)
        self._held.append(data)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def release(self) -> None:
        """Write what is held now, in one write."""
        held, self._held = self._held, []
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.release()
        self._transport.close()

    def abort(self) -> None:
        self._held = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through ``RoundWrites``."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        held = RoundWrites(cast(asyncio.Transport, transport), self.loop)
        super().connection_made(cast(asyncio.Transport, held))
