"""A loopback HTTP front for a live server that misbehaves the way real networks do.

The browser talks to the front; in ``pass`` mode it forwards each request to the
server (answering 502 when the server is down, as a reverse proxy does). The other
modes answer ``/card/…`` requests themselves, as an overloaded front, a Wi-Fi sign-in
portal or a dead link would; every other path is forwarded as usual.

With ``hold_worker_files`` it holds the card worker's own requests for its files (``/pwa/…``
fetched by a script, not loaded by the page) unanswered until ``stop``, when they fail as
the signal going does: the worker is caught mid-install.
"""

from __future__ import annotations

import asyncio
import contextlib

CANNED: dict[str, tuple[str, str]] = {
    # mode: (status line, HTML body)
    "busy": ("429 Too Many Requests", "<h1>Too many requests</h1>"),
    "server_error": ("503 Service Unavailable", "<h1>Service unavailable</h1>"),
    "portal": ("200 OK", "<h1>Welcome to the Hall Wi-Fi</h1><p>Accept the terms to go on.</p>"),
    "portal_404": ("404 Not Found", "<h1>Not found</h1>"),
}
MODES = ("pass", "hang", *CANNED)


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = "pass"
        self.hold_worker_files = False
        self.worker_file_held = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        if (
            self.hold_worker_files
            and path.startswith("/pwa/")
            and b"sec-fetch-dest: empty" in head.lower()
        ):
            self.worker_file_held.set()
            try:
                await asyncio.sleep(3600)  # until stop() cancels it
            except asyncio.CancelledError:
                writer.transport.abort()  # the connection drops, unanswered
                return
        mode = self.mode if path.startswith("/card/") else "pass"
        assert mode in MODES, mode
        if mode == "hang":
            await asyncio.sleep(3600)
        elif mode in CANNED:
            status, body = CANNED[mode]
            await self._answer(writer, status, body)
        else:
            await self._forward(head, writer)

    async def _answer(self, writer: asyncio.StreamWriter, status: str, body: str) -> None:
        data = body.encode()
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
            + data
        )
        await writer.drain()

    async def _forward(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        lines = head.split(b"\r\n")
        kept = [line for line in lines[1:] if line and not line.lower().startswith(b"connection:")]
        request = b"\r\n".join([lines[0], *kept, b"Connection: close", b"", b""])
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            await self._answer(writer, "502 Bad Gateway", "<h1>Bad gateway</h1>")
            return
        try:
            up_writer.write(request)
            await up_writer.drain()
            while chunk := await up_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        finally:
            up_writer.close()
