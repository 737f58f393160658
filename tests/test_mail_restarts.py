"""Mail survives restarts exactly once (issue 14 item 3): a real server (uvicorn, its own
delivery loop) sending to a real, slow SMTP server on loopback, stopped mid-batch."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from server.db.leases import LEASE
from server.mail.delivery import deliver_once
from server.mail.models import OutboxMessage
from server.mail.outbox import queue_email
from tests.live import LiveServer
from tests.smtp_fixtures import CaptureHandler, SmtpCapture

MESSAGES = 30
# Seconds the SMTP server takes per message: slow enough that the thirty take over a
# second, so a stop after the first few always falls mid-batch (the stop follows
# within a poll of 0.05 s or less); at 0.1 s the rest of each batch was seconds of waiting.
DATA_DELAY = 0.05
ROOT = Path(__file__).resolve().parent.parent


def _ctx() -> dict:
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


async def _statuses(db) -> collections.Counter[str]:
    rows = (
        await db.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    ).all()
    await db.commit()
    return collections.Counter({status: n for status, n in rows})


async def _stop_mid_batch(app, db, settings, database_url, tmp_path, how: signal.Signals):
    for n in range(MESSAGES):
        queue_email(db, to=f"m{n:02d}@example.org", template="card_link", context=_ctx())
    await db.commit()
    smtp = SmtpCapture()
    smtp.handler.data_delay = DATA_DELAY  # a slow server
    smtp.start()
    server = LiveServer(
        tmp_path / "live",
        database_url,
        {
            "TESSERA_BACKGROUND_JOBS": "true",
            "SMTP_URL": smtp.url,
            "SECRET_KEY": str(settings.secret_key),
        },
    )
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        server.start()
        deadline = time.monotonic() + 30
        while len(smtp.messages) < 5:
            assert time.monotonic() < deadline, "the server sent nothing: " + server.log()[-2000:]
            await asyncio.sleep(0.05)
        assert server.process is not None
        server.process.send_signal(how)
        stopped_at = time.monotonic()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # say where it hung: the server's own log
            raise AssertionError("the server did not stop: " + server.log()[-3000:]) from None
        stopped_in = time.monotonic() - stopped_at
        received_at_stop = len(smtp.messages)
        assert received_at_stop < MESSAGES, "the batch finished before the stop: slow the server"
        statuses = await _statuses(db)
        # Another process delivers the rest; after a SIGKILL it must wait out the lease.
        later = dt.datetime.now(dt.UTC) + (
            LEASE + dt.timedelta(seconds=1) if how == signal.SIGKILL else dt.timedelta()
        )
        while (
            await deliver_once(app.state.sessionmaker, settings_with(settings, smtp), now=later)
        ).done:
            pass
    finally:
        server.stop()
        smtp.stop()
    counts = collections.Counter(m["To"] for m in smtp.messages)
    assert set(counts) == {f"m{n:02d}@example.org" for n in range(MESSAGES)}, "a message was lost"
    assert (await _statuses(db)) == {"sent": MESSAGES}
    return statuses, received_at_stop, counts, stopped_in


def settings_with(settings, smtp: SmtpCapture):
    import dataclasses

    from starlette.datastructures import Secret

    return dataclasses.replace(settings, smtp_url=Secret(smtp.url))


async def test_sigterm_mid_batch_sends_nothing_twice_and_leaves_nothing_claimed(
    app, db, settings, database_url, tmp_path
):
    statuses, received_at_stop, counts, stopped_in = await _stop_mid_batch(
        app, db, settings, database_url, tmp_path, signal.SIGTERM
    )
    # Every message the SMTP server took was recorded as sent before the process ended,
    # and the rest of the batch was handed back at once, due now (not after a lease).
    assert statuses["sent"] == received_at_stop
    assert statuses["sending"] == 0 and statuses["queued"] == MESSAGES - received_at_stop
    assert max(counts.values()) == 1, f"duplicates: {[a for a, n in counts.items() if n > 1]}"
    assert stopped_in < 10


async def test_sigkill_mid_batch_repeats_at_most_the_message_in_flight(
    app, db, settings, database_url, tmp_path
):
    statuses, received_at_stop, counts, _ = await _stop_mid_batch(
        app, db, settings, database_url, tmp_path, signal.SIGKILL
    )
    assert statuses["sent"] >= received_at_stop - 1  # at most the one in flight unrecorded
    duplicates = [a for a, n in counts.items() if n > 1]
    assert len(duplicates) <= 1 and max(counts.values()) <= 2, duplicates


async def test_after_sigkill_a_restarted_server_sends_the_rest_at_once(
    db, settings, database_url, tmp_path, sqlite_only
):
    """The killed process's claimed batch does not wait out the 5-minute lease: the next
    process on the machine sees its claimant gone and sends the rest within seconds."""
    for n in range(MESSAGES):
        queue_email(db, to=f"m{n:02d}@example.org", template="card_link", context=_ctx())
    await db.commit()
    smtp = SmtpCapture()
    smtp.handler.data_delay = DATA_DELAY
    smtp.start()
    env = {
        "TESSERA_BACKGROUND_JOBS": "true",
        "SMTP_URL": smtp.url,
        "SECRET_KEY": str(settings.secret_key),
    }
    first = LiveServer(tmp_path / "first", database_url, env)
    second = LiveServer(tmp_path / "second", database_url, env)
    for server in (first, second):
        server.log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        first.start()
        deadline = time.monotonic() + 30
        while len(smtp.messages) < 5:
            assert time.monotonic() < deadline, "the server sent nothing: " + first.log()[-2000:]
            await asyncio.sleep(0.05)
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=30)
        assert (await _statuses(db))["sending"] > 0  # the rest of its batch, claimed
        second.start()
        deadline = time.monotonic() + 45  # far less than the 5-minute lease
        while (await _statuses(db)) != {"sent": MESSAGES}:
            assert time.monotonic() < deadline, f"stranded: {await _statuses(db)}"
            await asyncio.sleep(0.2)
    finally:
        first.stop()
        second.stop()
        smtp.stop()
    counts = collections.Counter(m["To"] for m in smtp.messages)
    assert set(counts) == {f"m{n:02d}@example.org" for n in range(MESSAGES)}, "a message was lost"
    duplicates = [a for a, n in counts.items() if n > 1]
    assert len(duplicates) <= 1 and max(counts.values()) <= 2, duplicates


def _send_mail(database_url: str, tmp_path, settings, smtp: SmtpCapture) -> subprocess.Popen[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "TESSERA_DATA_DIR": str(tmp_path / "cli"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": str(settings.secret_key),
        "SMTP_URL": smtp.url,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "send-mail"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_send_mail_stopped_mid_batch_hands_the_rest_back_at_once(
    db, settings, database_url, tmp_path
):
    """``manage.py send-mail`` from cron, stopped by a timeout (SIGTERM) mid-batch, then
    killed (SIGKILL): nothing is sent twice after the SIGTERM, at most the one message
    in flight after the SIGKILL, and the next run sends the rest at once."""
    for n in range(MESSAGES):
        queue_email(db, to=f"m{n:02d}@example.org", template="card_link", context=_ctx())
    await db.commit()
    smtp = SmtpCapture()
    smtp.handler.data_delay = DATA_DELAY
    smtp.start()
    try:
        for how, after in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
            process = _send_mail(database_url, tmp_path, settings, smtp)
            try:
                deadline = time.monotonic() + 30
                while len(smtp.messages) < after:
                    assert time.monotonic() < deadline, (
                        process.stderr.read() if process.stderr else ""
                    )
                    await asyncio.sleep(0.02)
                process.send_signal(how)
                _, stderr = process.communicate(timeout=30)
            finally:
                process.kill()
            statuses = await _statuses(db)
            assert statuses["sent"] < MESSAGES, "the batch finished before the stop"
            if how == signal.SIGTERM:
                assert statuses["sending"] == 0, f"left claimed: {statuses}"
                assert statuses["sent"] == len(smtp.messages)
                assert process.returncode == 128 + signal.SIGTERM, stderr
                assert "Traceback" not in stderr and "handed back" in stderr, stderr
        process = _send_mail(database_url, tmp_path, settings, smtp)
        stdout, stderr = process.communicate(timeout=60)  # no 5-minute wait for the lease
        assert process.returncode == 0, stdout + stderr
    finally:
        smtp.stop()
    counts = collections.Counter(m["To"] for m in smtp.messages)
    assert set(counts) == {f"m{n:02d}@example.org" for n in range(MESSAGES)}, "a message was lost"
    duplicates = [a for a, n in counts.items() if n > 1]
    assert len(duplicates) <= 1 and max(counts.values()) <= 2, duplicates
    assert (await _statuses(db)) == {"sent": MESSAGES}


class HeldHandler(CaptureHandler):
    """An SMTP server that holds each DATA until the test lets it go (a server that has
    stopped answering mid-message: up to the 30 s SMTP timeout in real life)."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()
        self.let_go = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.holding.set()
        await asyncio.to_thread(self.let_go.wait, 60)
        return await super().handle_DATA(server, session, envelope)


async def test_stopping_hands_the_rest_back_while_the_message_in_flight_is_finished(
    app, db, settings
):
    """SIGTERM while the SMTP server is slow to answer the message in flight: the rest of
    the batch is queued again at once — another worker or the next server sends it —
    not only once the message in flight is done (up to the SMTP timeout later)."""
    for n in range(5):
        queue_email(db, to=f"m{n}@example.org", template="card_link", context=_ctx())
    await db.commit()
    smtp = SmtpCapture()
    handler = HeldHandler()
    smtp.handler = smtp.controller.handler = handler
    smtp.start()
    delivering = asyncio.create_task(
        deliver_once(app.state.sessionmaker, settings_with(settings, smtp))
    )
    try:
        assert await asyncio.to_thread(handler.holding.wait, 30), "nothing reached the server"
        delivering.cancel()  # what serve's SIGTERM does to the delivery loop
        deadline = time.monotonic() + 30
        while (await _statuses(db)) != {"sending": 1, "queued": 4}:
            assert time.monotonic() < deadline, f"the rest is still claimed: {await _statuses(db)}"
            assert not delivering.done(), "the message in flight was not waited for"
            await asyncio.sleep(0.05)
        handler.let_go.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(delivering, 30)
    finally:
        handler.let_go.set()
        smtp.stop()
    assert (await _statuses(db)) == {"sent": 1, "queued": 4}
    assert [m["To"] for m in smtp.messages] == ["m0@example.org"]


async def test_a_message_sent_again_after_a_kill_carries_the_same_message_id(app, db, settings):
    """kill -9 between the SMTP server's "250" and the row marked sent: the message is
    sent again once its claim runs out (README, "When mail fails": at most one per
    worker). Each copy had a fresh Message-ID, so the member's mail client showed it
    twice; with the same one, mail servers and clients treat it as one message."""
    smtp = SmtpCapture()
    smtp.start()
    try:
        queue_email(db, to="twice@example.org", template="card_link", context=_ctx())
        await db.commit()
        smtp_settings = settings_with(settings, smtp)
        assert (await deliver_once(app.state.sessionmaker, smtp_settings)).sent == 1
        # What a kill -9 right after the server's "250" leaves: the row still claimed.
        row = (await db.execute(select(OutboxMessage))).scalar_one()
        row.status, row.claimed_by = "sending", "vm:999999"
        row.claimed_until = dt.datetime.now(dt.UTC)
        await db.commit()
        later = dt.datetime.now(dt.UTC) + LEASE + dt.timedelta(seconds=1)
        assert (await deliver_once(app.state.sessionmaker, smtp_settings, now=later)).sent == 1
    finally:
        smtp.stop()
    first, again = smtp.messages
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"].endswith("@testserver>")
