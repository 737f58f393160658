"""The same request in an unexpected shape (shape4), replayed as attacks.

A tester sent the app's own requests with another method, another path spelling, other
headers or another kind of body, looking for an answer that differs from the usual one.
Each test follows those steps and asserts that the difference is gone; each failed
before its fix.
"""

from __future__ import annotations

import contextlib
import re
import socket

from sqlalchemy import select

from server.audit.models import AuditEntry
from server.cards.card_routes import unknown_limiter
from server.web.csrf import MAX_BODY
from tests.card_fixtures import issued_token
from tests.factories import clients_from, csrf_from, login, make_member, make_staff
from tests.live import LiveServer, raw_head


async def test_a_header_token_does_not_let_a_body_of_any_size_through(client, db):
    """Anyone may open the login page and read its CSRF token. Sent as the form field,
    the token lets at most ``MAX_BODY`` (8 MB) of form through; sent as the
    ``X-CSRF-Token`` header (as the scanner sends it), the body was not read before the
    endpoint, which then took all of it — a multipart "file" of any size spooled to the
    server's disk from a visitor who is not even logged in. The body is bounded now
    whichever way the token comes."""
    await make_member(db, email="someone@example.org")
    await db.commit()
    token = await csrf_from(client, "/login")
    boundary = "shape4"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="email"\r\n\r\nsomeone@example.org\r\n'
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="upload"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"A" * (MAX_BODY + 1)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    refused = await client.post(
        "/login",
        content=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-CSRF-Token": token,
        },
    )
    assert refused.status_code == 403 and "The form was too large." in refused.text

    # A body of the usual size with the header token still reaches the login.
    answered = await client.post(
        "/login",
        data={"email": "someone@example.org", "password": "wrong"},
        headers={"X-CSRF-Token": token},
    )
    assert answered.status_code == 400 and "do not match" in answered.text


async def test_a_guesser_stepping_through_its_ipv6_block_is_held_back(app, db, settings):
    """Unknown card links are limited to 20 per address in 10 minutes. An IPv6 client is
    given a whole /64 and may send from any address in it: the tester asked for 25
    unknown cards from 2001:db8:1:2::1, ::2, … and every one was answered 404, never 429.
    A limit counts an IPv6 client by its /64 now; another block, and a valid card from
    the held-back block, are answered as before."""
    member = await make_member(db)
    token = await issued_token(db, settings, member)
    block = clients_from(app, "2001:db8:1:2::", unknown_limiter.limit + 5)
    elsewhere = clients_from(app, "2001:db8:1:3::", 1)[0]
    try:
        answers = [(await c.get(f"/card/{'z' * 22}.json")).status_code for c in block]
        assert answers == [404] * unknown_limiter.limit + [429] * 5
        assert (await elsewhere.get(f"/card/{'z' * 22}.json")).status_code == 404
        assert (await block[0].get(f"/card/{token}.json")).status_code == 200
    finally:
        for c in [*block, elsewhere]:
            await c.aclose()


def test_a_websocket_handshake_is_answered_with_the_headers_and_logged_without_an_address(
    database_url, tmp_path, sqlite_only
):
    """Tessera has no WebSocket route, yet uvicorn took every ``Upgrade: websocket``
    handshake itself: a bare "403 Forbidden" without CSP, nosniff or HSTS, and two log
    lines, one of them with the client's address and port (``127.0.0.1:39208 -
    "WebSocket /login" 403``), which the access log never writes. The handshake is
    answered now as the GET it also is: the page, its headers, one access-log line."""
    server = LiveServer(
        tmp_path / "live", database_url, extra_env={"BASE_URL": "https://members.example.org"}
    )
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        head = raw_head(
            server.port,
            b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
    finally:
        server.stop()
    assert head.startswith("http/1.1 200"), head
    for header in (
        "content-security-policy: default-src 'self'",
        "x-content-type-options: nosniff",
        "strict-transport-security: max-age=31536000",
    ):
        assert header in head, (header, head)
    log = server.log()
    assert not re.search(r"127\.0\.0\.1:\d+ - ", log), log  # no client address
    assert "WebSocket" not in log and "upgrade" not in log, log
    assert log.count("GET /login 200") == 2, log  # the start-up probe and the handshake


def test_a_head_that_never_ends_is_refused_before_it_fills_the_memory(
    database_url, tmp_path, sqlite_only
):
    """A cookie of 200 MB, sent and never finished: httptools gathers a header of any
    length before uvicorn sees it, and the worker held all of it (its memory grew by
    200 MB, for one connection). A head over 64 KB is refused now, with the security
    headers, and the connection closed; heads of the usual size are answered."""
    server = LiveServer(tmp_path / "live", database_url)
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
            conn.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\nCookie: tessera_session=")
            sent = 0
            with contextlib.suppress(OSError):  # the server stops reading
                while sent < 8 * 1024 * 1024:
                    conn.sendall(b"A" * 16384)
                    sent += 16384
            answer = conn.recv(4096).decode("latin-1").lower()
        usual = raw_head(
            server.port, b"GET /login HTTP/1.1\r\nHost: x\r\nCookie: a=" + b"b" * 8000 + b"\r\n\r\n"
        )
    finally:
        server.stop()
    assert sent < 8 * 1024 * 1024
    assert answer.startswith("http/1.1 431"), answer
    assert "content-security-policy: default-src 'self'" in answer
    assert usual.startswith("http/1.1 200"), usual


async def test_a_trailing_slash_redirects_to_this_site_whatever_the_host_header(client):
    """``/login/`` is redirected to ``/login``: Starlette built the address from the
    request's Host header, so ``Host: evil.example`` was answered ``Location:
    http://evil.example/login`` (and behind a proxy that passes its upstream address as
    the host, nginx's default, browsers were sent to ``http://127.0.0.1:8000/login``).
    The redirect names only the path now, which the browser resolves against the
    address it asked."""
    evil = {"Host": "evil.example"}
    for path, target in [
        ("/login/", "/login"),
        ("/login//?next=/me", "/login?next=/me"),
        ("/check/scan", "/check/scan/"),
    ]:
        answer = await client.get(path, headers=evil)
        assert answer.status_code in (307, 308), (path, answer.status_code)
        assert answer.headers["location"] == target
    for path in ("/nowhere/", "/nowhere//", "/static/no-such-file", "/static/no-such/"):
        assert (await client.get(path, headers=evil)).status_code == 404, path


async def test_a_head_request_is_not_audited_as_a_download(client, db):
    """A HEAD runs the page's GET code, and Starlette sends its headers alone. For the
    marshal's roster (every current member, for an offline scanner) and the officer's
    CSV export of the register, that GET code writes the audit entry "downloaded" /
    "exported": a link checker or a script's HEAD left an audit trail of downloads that
    never happened (a 304 of the roster is not audited for that reason). A HEAD is
    answered with the same headers now and audits nothing; a GET still does."""
    staff = await make_staff(db, ["check_cards", "export_members"])
    await db.commit()
    await login(client, staff.email)
    for path in ("/check/scan/roster.json", "/members.csv"):
        head = await client.head(path)
        assert head.status_code == 200 and head.content == b""
        get = await client.get(path)
        assert get.status_code == 200
        for name in ("content-type", "content-encoding", "content-disposition", "etag"):
            assert head.headers.get(name) == get.headers.get(name), name
    actions = (await db.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars()
    downloads = [a for a in actions if a in ("checks.roster_download", "members.export")]
    assert downloads == ["checks.roster_download", "members.export"]  # the GETs only
