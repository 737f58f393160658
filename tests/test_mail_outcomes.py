"""What each SMTP answer does to a message, retrying failed mail, and what the officer
who issued card links sees of their undelivered mail (issue 14 items 3-4)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from starlette.datastructures import Secret

from server.mail.delivery import deliver_once
from server.mail.models import OutboxMessage
from server.mail.outbox import queue_email
from tests import smtp_fixtures
from tests.factories import csrf_from, login, make_member, make_staff
from tests.live import free_port, run_manage

smtp_server = smtp_fixtures.smtp_server


def with_smtp(settings, url):
    return dataclasses.replace(settings, smtp_url=Secret(url))


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


async def _by_address(db) -> dict[str, OutboxMessage]:
    db.expire_all()
    rows = (await db.execute(select(OutboxMessage))).scalars().all()
    await db.commit()
    return {r.to_addr: r for r in rows}


async def test_a_5xx_fails_that_message_only_and_a_4xx_never_uses_up_the_message(
    app, db, settings, smtp_server
):
    for name in ("ok", "gone", "busy"):
        queue_email(db, to=f"{name}@example.org", template="card_link", context=_ctx())
    await db.commit()
    smtp_server.handler.refuse_rcpt = {
        "gone@example.org": "550 5.1.1 <gone@example.org>: no such user",
        "busy@example.org": "452 4.2.2 mailbox full, try later",
    }
    smtp = with_smtp(settings, smtp_server.url)

    report = await deliver_once(app.state.sessionmaker, smtp)
    assert (report.sent, report.failed, report.retried) == (1, 1, 1)
    rows = await _by_address(db)
    assert rows["ok@example.org"].status == "sent"
    gone = rows["gone@example.org"]
    assert (
        gone.status == "failed" and "550" in gone.last_error and "no such user" in gone.last_error
    )
    busy = rows["busy@example.org"]
    assert busy.status == "queued" and "452" in busy.last_error

    # A week of "try later": still queued, still tried, never failed.
    moment = dt.datetime.now(dt.UTC)
    for _ in range(30):
        moment += dt.timedelta(hours=1)
        await deliver_once(app.state.sessionmaker, smtp, now=moment)
    busy = (await _by_address(db))["busy@example.org"]
    assert busy.status == "queued" and busy.attempts == 31
    # The mailbox has room again: the next try delivers it.
    smtp_server.handler.refuse_rcpt.pop("busy@example.org")
    moment += dt.timedelta(hours=1)
    assert (await deliver_once(app.state.sessionmaker, smtp, now=moment)).sent == 1
    assert sorted(m["To"] for m in smtp_server.messages) == ["busy@example.org", "ok@example.org"]


async def test_a_refused_sender_is_the_server_s_problem_not_the_messages(
    app, db, settings, smtp_server
):
    """MAIL FROM is the same for every message: its refusal (the relay wants a login, or
    does not accept our sender) fails none of them; mail flows once it is fixed."""
    for name in ("a", "b", "c"):
        queue_email(db, to=f"{name}@example.org", template="card_link", context=_ctx())
    await db.commit()
    smtp_server.handler.refuse_mail = "530 5.7.0 Authentication required"
    smtp = with_smtp(settings, smtp_server.url)
    moment = dt.datetime.now(dt.UTC)
    for _ in range(10):  # ten hours of it
        report = await deliver_once(app.state.sessionmaker, smtp, now=moment)
        assert report.failed == 0 and "530" in report.server_problem
        moment += dt.timedelta(hours=1)
    rows = await _by_address(db)
    assert {r.status for r in rows.values()} == {"queued"}
    assert all("530" in r.last_error for r in rows.values())

    smtp_server.handler.refuse_mail = None  # the operator set the login in SMTP_URL
    assert (await deliver_once(app.state.sessionmaker, smtp, now=moment)).sent == 3
    assert sorted(m["To"] for m in smtp_server.messages) == [f"{n}@example.org" for n in "abc"]


async def test_a_superuser_retries_one_and_all_failed_messages(
    app, client, db, settings, smtp_server
):
    for name in ("a", "b", "c"):
        queue_email(db, to=f"{name}@example.org", template="card_link", context=_ctx())
    admin = await make_member(db, is_superuser=True, is_staff=True)
    await db.commit()
    smtp = with_smtp(settings, smtp_server.url)
    smtp_server.handler.refuse_rcpt = {
        f"{n}@example.org": "550 5.7.1 relaying denied" for n in ("a", "b", "c")
    }
    assert (await deliver_once(app.state.sessionmaker, smtp)).failed == 3
    assert (await deliver_once(app.state.sessionmaker, smtp)).done == 0  # failed stays failed
    smtp_server.handler.refuse_rcpt = {}  # the operator fixed the relay

    await login(client, admin.email)
    listing = await client.get("/admin/outbox?status=failed")
    assert "3 messages failed" in listing.text and "relaying denied" in listing.text
    a = (await _by_address(db))["a@example.org"]
    token = await csrf_from(client, f"/admin/outbox/{a.id}")
    answer = await client.post(f"/admin/outbox/{a.id}/retry", data={"csrf_token": token})
    assert answer.status_code == 303
    page = await client.get(answer.headers["location"])
    assert "queued and will be sent" in page.text
    assert (await deliver_once(app.state.sessionmaker, smtp)).sent == 1
    # Retrying a sent message changes nothing and says so.
    again = await client.post(f"/admin/outbox/{a.id}/retry", data={"csrf_token": token})
    assert "nothing to retry" in (await client.get(again.headers["location"])).text

    answer = await client.post("/admin/outbox/retry-failed", data={"csrf_token": token})
    assert (
        "2 failed messages are queued again" in (await client.get(answer.headers["location"])).text
    )
    assert (await deliver_once(app.state.sessionmaker, smtp)).sent == 2
    assert sorted(m["To"] for m in smtp_server.messages) == [
        f"{n}@example.org" for n in ("a", "b", "c")
    ]
    assert {r.status for r in (await _by_address(db)).values()} == {"sent"}


def test_send_mail_retry_failed_from_the_command_line(
    database_url, tmp_path, smtp_server, sqlite_only
):
    import asyncio

    from server.db.engine import make_engine, make_sessionmaker

    async def arrange() -> None:
        engine = make_engine(database_url)
        async with make_sessionmaker(engine)() as db:
            message = queue_email(db, to="x@example.org", template="card_link", context=_ctx())
            message.status = "failed"
            message.last_error = "SMTP 550: relaying denied"
            await db.commit()
        await engine.dispose()

    asyncio.run(arrange())
    env = {
        "PATH": "/usr/bin:/bin",
        "TESSERA_DATA_DIR": str(tmp_path),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "cli-secret-" + "z" * 32,
        "SMTP_URL": smtp_server.url,
    }
    plain = run_manage(env, "send-mail", timeout=60)
    assert "sent 0" in plain.stdout and smtp_server.messages == []
    retried = run_manage(env, "send-mail", "--retry-failed", timeout=60)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "queued again 1 failed message" in retried.stdout and "sent 1" in retried.stdout
    assert [m["To"] for m in smtp_server.messages] == ["x@example.org"]


async def test_the_officer_who_issued_card_links_sees_what_is_stuck_and_why(
    app, client, db, settings, smtp_server
):
    officer = await make_staff(db, ["issue_card_links", "manage_members"])
    other = await make_staff(db, ["issue_card_links"])
    members = [await make_member(db, email=f"card{n}@example.org") for n in range(3)]
    await db.commit()
    smtp_server.handler.refuse_rcpt = {
        "card0@example.org": "550 5.1.1 <card0@example.org>: unknown"
    }

    await login(client, officer.email)
    for member in members:
        token = await csrf_from(client, f"/members/{member.id}/card-links")
        answer = await client.post(
            f"/members/{member.id}/card-links/issue", data={"csrf_token": token}
        )
        assert answer.status_code == 303
    dashboard = await client.get("/")
    assert "3 queued · 0 failing · 0 failed" in dashboard.text

    # The mail server is down: nothing is lost, and the officer is told why.
    down = with_smtp(settings, f"smtp://127.0.0.1:{free_port()}")
    await deliver_once(app.state.sessionmaker, down)
    dashboard = await client.get("/")
    assert "0 queued · 3 failing · 0 failed" in dashboard.text
    assert "SMTP server unreachable" in dashboard.text

    # It is back: two arrive, one address is refused for good.
    await deliver_once(app.state.sessionmaker, with_smtp(settings, smtp_server.url))
    for page in ("/", "/cards/bulk"):
        text = (await client.get(page)).text
        assert "0 queued · 0 failing · 1 failed" in text, page
        assert "SMTP 550: 5.1.1 (address): unknown" in text, page
    assert "card0@example.org" not in text

    # Another officer's dashboard is about their own mail: nothing to show.
    client.cookies.clear()
    await login(client, other.email)
    assert "not yet delivered" not in (await client.get("/")).text
