"""One write per response: uvicorn on a real socket, the writes that reach the real
transport counted, and what a client receives read back."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.web.one_write import OneWriteHttpToolsProtocol

BIG = 5 * 1024 * 1024


class WriteLog:
    """The real transport, with the writes that reach it noted."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _noting(base: type[HttpToolsProtocol], writes: list[bytes]) -> type[HttpToolsProtocol]:
    class Noted(base):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(WriteLog(transport, writes))  # type: ignore[arg-type]

    return Noted


class App:
    """``/small``: a short answer; ``/slow``: the head now, the body once ``gate`` opens;
    ``/big``: 5 MB in one body."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        path = scope["path"]
        body = b"x" * BIG if path == "/big" else path.encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if path == "/slow":
            await self.gate.wait()
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def served() -> AsyncIterator[tuple[App, dict[type, int], dict[type, list[bytes]]]]:
    """The app under uvicorn twice: with Tessera's protocol and with uvicorn's own."""
    app = App()
    writes: dict[type, list[bytes]] = {}
    servers, tasks = [], []
    ports: dict[type, int] = {}
    for base in (OneWriteHttpToolsProtocol, HttpToolsProtocol):
        writes[base] = []
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(  # log_config=None: the test process's logging stays as it is
            app, http=_noting(base, writes[base]), lifespan="off", log_config=None
        )
        server = uvicorn.Server(config)
        tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
        servers.append(server)
        ports[base] = sock.getsockname()[1]
    for _ in range(500):  # up to 5 s
        if all(server.started for server in servers):
            break
        await asyncio.sleep(0.01)
    yield app, ports, writes
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks)


@pytest.fixture
async def connections() -> AsyncIterator[list[asyncio.StreamWriter]]:
    opened: list[asyncio.StreamWriter] = []
    yield opened
    for writer in opened:
        writer.close()
        await writer.wait_closed()


async def _ask(
    opened: list[asyncio.StreamWriter], port: int, *paths: str, close: bool = False
) -> asyncio.StreamReader:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    opened.append(writer)
    connection = b"Connection: close\r\n" if close else b""
    writer.write(
        b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (p.encode(), connection) for p in paths)
    )
    await writer.drain()
    return reader


async def _response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head, await asyncio.wait_for(reader.readexactly(length), 5)


@pytest.mark.parametrize("base, expected", [(OneWriteHttpToolsProtocol, 1), (HttpToolsProtocol, 2)])
async def test_a_response_leaves_in_one_write(served, connections, base, expected):
    _app, ports, writes = served
    head, body = await _response(await _ask(connections, ports[base], "/small"))
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b"/small"
    assert len(writes[base]) == expected  # uvicorn alone: the head, then the body


async def test_the_head_of_a_slow_body_is_not_kept_waiting(served, connections):
    app, ports, _writes = served
    reader = await _ask(connections, ports[OneWriteHttpToolsProtocol], "/slow")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)  # the body is not ready
    assert head.startswith(b"HTTP/1.1 200 OK")
    app.gate.set()
    assert await asyncio.wait_for(reader.readexactly(len(b"/slow")), 5) == b"/slow"


async def test_pipelined_requests_are_answered_in_order(served, connections):
    _app, ports, _writes = served
    reader = await _ask(
        connections, ports[OneWriteHttpToolsProtocol], "/first", "/second", "/third"
    )
    assert [(await _response(reader))[1] for _ in range(3)] == [b"/first", b"/second", b"/third"]


async def test_closing_the_connection_sends_the_whole_answer_first(served, connections):
    _app, ports, _writes = served
    reader = await _ask(connections, ports[OneWriteHttpToolsProtocol], "/small", close=True)
    everything = await asyncio.wait_for(reader.read(), 5)  # up to the server's close
    assert everything.startswith(b"HTTP/1.1 200 OK") and everything.endswith(b"\r\n\r\n/small")


async def test_a_large_body_arrives_whole(served, connections):
    _app, ports, _writes = served
    _head, body = await _response(await _ask(connections, ports[OneWriteHttpToolsProtocol], "/big"))
    assert len(body) == BIG and body.count(b"x") == BIG
