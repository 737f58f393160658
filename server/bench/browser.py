"""A small asyncio HTTP/1.1 client that behaves like one browser tab: one keep-alive
connection, the session cookie it was given, forms posted with the page's CSRF token.

Loopback only and raw on purpose: the load generator's own cost per request should be
small beside the server's, and a benchmark should not depend on a client library's
pooling or redirect rules.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

COOKIE = re.compile(r"^\s*([^=;\s]+)=([^;]*)(.*)$")
CSRF_FIELD = re.compile(rb'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names; the last value of a repeated header
    body: bytes

    def csrf(self) -> str:
        """The CSRF token of the first form on the page."""
        found = CSRF_FIELD.search(self.body)
        if found is None:
            raise ValueError("the page has no form with a CSRF token")
        return found.group(1).decode()


class Browser:
    """Requests on one connection, in turn; cookies kept from every answer."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.cookies: dict[str, str] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._reader.at_eof():
            self.close()
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply:
        """Send one request and read the whole answer. Any failure closes the connection
        (the next request opens a new one) and propagates."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        try:
            reader, writer = await self._connect()
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            head = await reader.readuntil(b"\r\n\r\n")
            status, answer_headers = self._head(head)
            content = await self._body(reader, answer_headers, method)
        except BaseException:
            self.close()
            raise
        if answer_headers.get("connection", "").lower() == "close":
            self.close()
        return Reply(status, answer_headers, content)

    def _head(self, head: bytes) -> tuple[int, dict[str, str]]:
        status_line, *rest = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in rest:
            if not line:
                continue
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                self._keep_cookie(value)
            headers[name] = value
        return int(status_line.split(" ", 2)[1]), headers

    def _keep_cookie(self, header: str) -> None:
        found = COOKIE.match(header)
        if found is None:
            return
        name, value, attributes = found.groups()
        if "max-age=0" in attributes.lower().replace(" ", "") or not value.strip('"'):
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value

    @staticmethod
    async def _body(reader: asyncio.StreamReader, headers: dict[str, str], method: str) -> bytes:
        if method == "HEAD":
            return b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers from our servers
                    return b"".join(chunks)
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
        length = int(headers.get("content-length", "0"))
        return await reader.readexactly(length) if length else b""

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return await self.request("GET", path, headers)

    async def post_form(
        self, path: str, fields: dict[str, str], headers: dict[str, str] | None = None
    ) -> Reply:
        return await self.request(
            "POST",
            path,
            {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
            urlencode(fields).encode(),
        )

    async def log_in(self, email: str, password: str) -> None:
        """The login form as a person fills it in; raises unless a session results."""
        form = await self.get("/login")
        reply = await self.post_form(
            "/login", {"csrf_token": form.csrf(), "email": email, "password": password}
        )
        if reply.status != 303:
            raise RuntimeError(f"logging in as {email} answered HTTP {reply.status}")


async def session_cookie(base_url: str, email: str, password: str) -> str:
    """A ``Cookie`` header value for a fresh session of this account."""
    browser = Browser(base_url)
    try:
        await browser.log_in(email, password)
        # The next page sets the session's CSRF token, as it would for a person.
        await browser.get("/")
    finally:
        browser.close()
    return "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
