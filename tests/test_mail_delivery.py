from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select
from starlette.datastructures import Secret

from server.cards.service import issue_link
from server.mail.delivery import deliver_once, parse_smtp_url
from server.mail.models import OutboxMessage
from server.mail.outbox import queue_email
from tests import smtp_fixtures
from tests.card_fixtures import mail_for
from tests.factories import make_member
from tests.live import free_port
from tests.smtp_fixtures import SmtpCapture

smtp_server = smtp_fixtures.smtp_server


def with_smtp(settings, url):
    return dataclasses.replace(settings, smtp_url=Secret(url))


async def _rows(db):
    db.expire_all()
    rows = list((await db.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())
    await db.commit()  # SQLite: every transaction holds the writer lock
    return rows


async def test_card_link_email_is_delivered_with_the_plain_link(app, db, settings, smtp_server):
    member = await make_member(db)
    issued = await issue_link(db, member, member, mail_for(settings), dt.date.today())
    await db.commit()

    report = await deliver_once(app.state.sessionmaker, with_smtp(settings, smtp_server.url))

    assert report.sent == 1
    [message] = smtp_server.messages
    assert message["To"] == member.email
    assert message["From"] == settings.mail_from
    assert smtp_server.card_urls() == [f"http://testserver/card/{issued.token}"]
    html = message.get_body(("html",))
    assert (
        html is not None and f'href="http://testserver/card/{issued.token}"' in html.get_content()
    )
    [row] = await _rows(db)
    assert row.status == "sent" and row.sent_at is not None and row.attempts == 1
    assert issued.token not in row.body_text  # still sealed in the database


async def test_refusing_server_is_retried_later_and_then_succeeds(app, db, settings, smtp_server):
    queue_email(db, to="a@example.org", template="card_link", context=_ctx())
    await db.commit()
    smtp_server.handler.refuse_next = 1
    smtp = with_smtp(settings, smtp_server.url)

    first = await deliver_once(app.state.sessionmaker, smtp)
    assert (first.sent, first.retried) == (0, 1)
    [row] = await _rows(db)
    assert row.status == "queued" and "451" in row.last_error
    assert row.next_attempt_at > dt.datetime.now(dt.UTC)
    # Not due yet: nothing happens.
    assert (await deliver_once(app.state.sessionmaker, smtp)).sent == 0
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    assert (await deliver_once(app.state.sessionmaker, smtp, now=later)).sent == 1
    [row] = await _rows(db)
    assert row.status == "sent" and row.attempts == 2
    assert len(smtp_server.messages) == 1


async def test_outage_loses_nothing_and_uses_up_no_attempts(app, db, settings):
    for n in range(3):
        queue_email(db, to=f"m{n}@example.org", template="card_link", context=_ctx())
    await db.commit()
    port = free_port()
    smtp = with_smtp(settings, f"smtp://127.0.0.1:{port}")
    for _ in range(20):  # an outage of any length: nothing fails, nothing is pushed back
        report = await deliver_once(app.state.sessionmaker, smtp)
        assert (report.released, report.failed, report.retried) == (3, 0, 0)
        assert "unreachable" in report.server_problem
    rows = await _rows(db)
    assert [(r.status, r.attempts) for r in rows] == [("queued", 0)] * 3
    assert all("unreachable" in r.last_error for r in rows)

    server = SmtpCapture(port)
    server.start()
    try:
        assert (await deliver_once(app.state.sessionmaker, smtp)).sent == 3
    finally:
        server.stop()
    assert sorted(m["To"] for m in server.messages) == [f"m{n}@example.org" for n in range(3)]


async def test_two_loops_never_send_one_message_twice(app, db, settings, smtp_server):
    for n in range(40):
        queue_email(db, to=f"m{n}@example.org", template="card_link", context=_ctx())
    await db.commit()
    smtp = with_smtp(settings, smtp_server.url)
    from server.mail import delivery

    old = delivery.BATCH
    delivery.BATCH = 7
    try:

        async def loop(name: str) -> int:
            sent = 0
            while True:
                report = await deliver_once(app.state.sessionmaker, smtp, worker=name)
                sent += report.sent
                if report.sent == 0:
                    return sent

        counts = await asyncio.gather(loop("one"), loop("two"))
    finally:
        delivery.BATCH = old
    received = sorted(m["To"] for m in smtp_server.messages)
    assert received == sorted(f"m{n}@example.org" for n in range(40))
    assert sum(counts) == 40


async def test_without_smtp_url_the_console_gets_the_message(app, db, settings, capsys):
    member = await make_member(db)
    issued = await issue_link(db, member, member, mail_for(settings), dt.date.today())
    await db.commit()
    # A development server (loopback BASE_URL) prints links whole; elsewhere they are
    # redacted (tests/test_security_attacks.py).
    development = dataclasses.replace(settings, base_url="http://127.0.0.1:8000")
    report = await deliver_once(app.state.sessionmaker, development)
    assert report.sent == 1
    out = capsys.readouterr().out
    assert f"/card/{issued.token}" in out and member.email in out


async def test_a_seal_from_another_secret_key_fails_the_message_clearly(
    app, db, settings, smtp_server
):
    member = await make_member(db)
    await issue_link(db, member, member, mail_for(settings), dt.date.today())
    await db.commit()
    other = dataclasses.replace(with_smtp(settings, smtp_server.url), secret_key=Secret("another"))
    report = await deliver_once(app.state.sessionmaker, other)
    assert report.failed == 1
    [row] = await _rows(db)
    assert row.status == "failed" and "SECRET_KEY" in row.last_error


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", ("mail.example.org", 587, False, None, None)),
        ("smtps://u%40x:p%3Aw@mail.example.org", ("mail.example.org", 465, True, "u@x", "p:w")),
        (
            "smtp://mail.example.org:2525?starttls=require",
            ("mail.example.org", 2525, False, "u", None),
        ),
    ],
)
def test_smtp_url_parsing(url, expected):
    target = parse_smtp_url(url)
    host, port, implicit, user, password = expected
    assert (target.host, target.port, target.implicit_tls) == (host, port, implicit)
    if user == "u":
        assert target.starttls is True
    else:
        assert (target.username, target.password) == (user, password)


@pytest.mark.parametrize(
    ("url", "starttls"),
    [
        ("smtp://mailer:pw@mail.example.org", True),
        ("smtp://mailer:pw@192.0.2.7:2525", True),
        ("smtp://mailer:pw@127.0.0.1:2525", None),  # this machine: nobody on the path
        ("smtp://mailer:pw@localhost", None),
        ("smtp://mail.example.org", None),  # no password to give away
        ("smtps://mailer:pw@mail.example.org", False),  # TLS from the start
    ],
)
def test_a_password_for_another_machine_is_only_sent_after_starttls(url, starttls):
    """smtp://user:pass@host used STARTTLS only when the server offered it: anyone on the
    path who strips the offer from the server's answer gets the password in clear."""
    assert parse_smtp_url(url).starttls is starttls


def test_bad_smtp_url_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="smtp://"):
        parse_smtp_url("http://example.org")


async def test_an_unusable_smtp_url_is_a_server_problem_not_a_crash(app, db, settings):
    """The delivery loop waits (30 s doubling to 5 min) instead of failing every round."""
    queue_email(db, to="m@example.org", template="card_link", context=_ctx())
    await db.commit()
    report = await deliver_once(app.state.sessionmaker, with_smtp(settings, "smtp://host:abc"))
    assert "SMTP_URL must look like" in report.server_problem and report.released == 1
    assert [(r.status, r.attempts) for r in await _rows(db)] == [("queued", 0)]


def _ctx():
    return {
        "site": {
            "site_title": "Tessera",
            "kingdom_name": "K",
            "card_color": "#000000",
            "card_text_color": "#ffffff",
        },
        "greeting": "Friend",
        "member_name": "Friend",
        "for_parent": False,
        "card_url": "http://testserver/card/x",
    }


def _tls_context(cert, key):
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context


def _authenticator(logins):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login,
            auth_data.password,
        ) == (b"mailer", b"s3cret:pw")
        logins.append(ok)
        return AuthResult(success=ok)

    return check


async def test_starttls_with_authentication(app, db, settings, tmp_path):
    cert, key = smtp_fixtures.self_signed_certificate(tmp_path)
    logins: list[bool] = []
    server = SmtpCapture(
        tls_context=_tls_context(cert, key),
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticator(logins),
    )
    server.start()
    try:
        queue_email(db, to="tls@example.org", template="card_link", context=_ctx())
        await db.commit()
        url = f"smtp://mailer:s3cret%3Apw@127.0.0.1:{server.port}?starttls=require&cafile={cert}"
        report = await deliver_once(app.state.sessionmaker, with_smtp(settings, url))
    finally:
        server.stop()
    assert report.sent == 1 and logins == [True]
    assert [m["To"] for m in server.messages] == ["tls@example.org"]


async def test_implicit_tls(app, db, settings, tmp_path):
    cert, key = smtp_fixtures.self_signed_certificate(tmp_path)
    server = SmtpCapture(ssl_context=_tls_context(cert, key))
    server.start()
    try:
        queue_email(db, to="smtps@example.org", template="card_link", context=_ctx())
        await db.commit()
        url = f"smtps://127.0.0.1:{server.port}?cafile={cert}"
        report = await deliver_once(app.state.sessionmaker, with_smtp(settings, url))
    finally:
        server.stop()
    assert report.sent == 1
    assert [m["To"] for m in server.messages] == ["smtps@example.org"]


async def test_a_batch_outlasting_its_claim_is_not_sent_twice(
    app, db, settings, smtp_server, monkeypatch
):
    """A slow SMTP server: the batch takes longer than the claim. Another loop takes
    over the rows whose claim ran out, and the first must not send them too."""
    from server.db import leases

    for n in range(6):
        queue_email(db, to=f"m{n}@example.org", template="card_link", context=_ctx())
    await db.commit()
    monkeypatch.setattr(leases, "LEASE", dt.timedelta(seconds=1))
    smtp_server.handler.data_delay = 0.4
    smtp = with_smtp(settings, smtp_server.url)

    async def late_loop() -> None:
        await asyncio.sleep(1.3)
        while (await deliver_once(app.state.sessionmaker, smtp, worker="two")).done:
            pass

    await asyncio.gather(deliver_once(app.state.sessionmaker, smtp, worker="one"), late_loop())
    received = sorted(m["To"] for m in smtp_server.messages)
    assert received == sorted(f"m{n}@example.org" for n in range(6))
    assert {r.status for r in await _rows(db)} == {"sent"}


async def test_a_message_that_cannot_be_built_fails_alone(app, db, settings, smtp_server):
    """A row no email can be made of (a line break in its subject or address, from
    wherever it came) is failed with the reason; it does not stop the mail behind it,
    round after round."""
    good = [f"m{n}@example.org" for n in range(3)]
    queue_email(db, to=good[0], template="card_link", context=_ctx())
    bad_subject = queue_email(db, to="x@example.org", template="card_link", context=_ctx())
    bad_subject.subject = "Your card\nBcc: everyone@example.org"
    bad_address = queue_email(
        db, to="y@example.org\r\nBcc: z@example.org", template="card_link", context=_ctx()
    )
    for address in good[1:]:
        queue_email(db, to=address, template="card_link", context=_ctx())
    await db.commit()
    smtp = with_smtp(settings, smtp_server.url)
    report = await deliver_once(app.state.sessionmaker, smtp)
    assert sorted(m["To"] for m in smtp_server.messages) == good
    assert report.sent == 3 and report.failed == 2 and not report.server_problem
    rows = {r.id: r for r in await _rows(db)}
    for row in (bad_subject, bad_address):
        assert rows[row.id].status == "failed"
        assert "cannot be made into an email" in rows[row.id].last_error


async def test_a_name_with_a_line_break_makes_a_one_line_subject(app, db, settings, smtp_server):
    context = _ctx() | {"for_parent": True, "member_name": "Evil\r\nBcc: all@example.org"}
    row = queue_email(db, to="parent@example.org", template="card_link", context=context)
    assert row.subject == "The Tessera member card of Evil Bcc: all@example.org"
    await db.commit()
    report = await deliver_once(app.state.sessionmaker, with_smtp(settings, smtp_server.url))
    assert report.sent == 1 and [m["To"] for m in smtp_server.messages] == ["parent@example.org"]
    assert smtp_server.messages[0]["Bcc"] is None
