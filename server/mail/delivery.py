"""Delivering the outbox: claim due rows, send them by SMTP, record each outcome at once.

Algorithm (``deliver_once``):
1. Claim up to ``BATCH`` due rows in one statement: queued rows whose
   ``next_attempt_at`` has come, and "sending" rows whose claim lease ran out (a loop
   that died mid-send). PostgreSQL skips rows another loop has locked
   (``FOR UPDATE SKIP LOCKED``); SQLite runs the single UPDATE under its one writer
   lock. A claimed row belongs to this loop until ``claimed_until``, so two loops never
   send one message twice. Each recorded outcome renews the claim on the rest of the
   batch; a row whose claim ran out all the same (a server slower than the 5-minute
   lease per message) and that another loop took over is left to that loop.
2. Open one SMTP connection (``SMTP_URL``) and send the claimed messages one by one,
   sealed links opened just before sending. Without ``SMTP_URL`` the message is
   printed to the console instead (development: links whole only for a loopback
   BASE_URL) and stays readable in the outbox.
3. Record each message's outcome in its own short transaction right after the server
   answered it, before the next message is sent:
   - accepted: ``sent``;
   - refused for good, a 5xx reply to this message (or a seal made with another
     SECRET_KEY, or a row no email can be made of: a line break in a header):
     ``failed``, with the reason, until someone retries it; the mail behind it goes on;
   - the sender refused (a reply to MAIL FROM, which is the same for every message: the
     relay wants a login or does not take our address), or the connection broke while
     this message was being sent: back to ``queued`` with backoff, and the loop waits
     as for an unreachable server (below);
   - refused for now, a 4xx reply: back to ``queued`` with backoff (30 s doubling to
     30 min, ``server.db.leases``) and the reason; it stays "failing", never runs out of
     attempts (after a broken connection the server may or may not have it:
     at-least-once).
4. A server that cannot be reached at all (connection refused, timeout, DNS, TLS,
   login, a 4xx/5xx greeting) is not the messages' fault: the claimed rows go back
   to ``queued`` unchanged but for the reason, and the loop inside ``serve`` waits
   (30 s doubling to five minutes) before knocking again. However long the outage,
   nothing is lost and nothing fails; mail flows within minutes of the server's return.

Stopping: when the task is cancelled (SIGTERM, Ctrl-C) the message in flight is
finished and recorded, and the other claimed rows are released at once (queued, due
now) for the next process. So a normal stop sends nothing twice and strands nothing;
a SIGKILL can repeat at most the one message in flight, per delivery loop: its rows are
sent again when their lease runs out, or at once when a new process on the same machine
starts and finds the claimant's process gone (``release_orphans``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from server.config import Settings
from server.database import utcnow
from server.db import leases
from server.db.leases import worker_name
from server.db.outage import OutageLog
from server.mail.models import OutboxMessage
from server.mail.sealed import UnreadableSeal, unseal
from server.web.access_log import redact_path

log = logging.getLogger("tessera.mail")

BATCH = 50
POLL_SECONDS = 5.0
SERVER_WAIT_MAX = 300.0  # seconds between knocks on an unreachable server
SMTP_TIMEOUT = 30.0
SIZE_REFUSED = 552  # a MAIL FROM refusal about this message's size: this message's own

Send = Callable[[EmailMessage], Awaitable[Any]]


@dataclass(frozen=True)
class SmtpTarget:
    """Parsed ``SMTP_URL``: smtp://[user:pass@]host[:port] (STARTTLS when offered,
    ``?starttls=require`` to insist) or smtps://… (TLS from the start).
    ``?cafile=PATH`` trusts a private CA. With a user and password for another machine
    STARTTLS is required: "when offered" would let anyone on the path who strips the
    offer read the password."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool | None  # None: when the server offers it
    username: str | None
    password: str | None
    cafile: str | None

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)


class BadSmtpURL(ValueError):
    """``SMTP_URL`` cannot be used (the message never repeats the URL: it holds a password)."""


def parse_smtp_url(url: str) -> SmtpTarget:
    shape = "SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadSmtpURL(f"{shape} (its port is not a number from 1 to 65535)") from None
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise BadSmtpURL(shape)
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"starttls", "cafile"})
    if unknown:
        raise BadSmtpURL(
            f"{shape} (?{unknown[0]} is not an option: ?starttls=require, ?cafile=PATH)"
        )
    if query.get("starttls", ["require"])[0] != "require":
        raise BadSmtpURL(f"{shape} (?starttls takes only 'require')")
    implicit = parts.scheme == "smtps"
    require = "starttls" in query or (
        parts.username is not None and not _loopback_host(parts.hostname)
    )
    return SmtpTarget(
        host=parts.hostname,
        port=port or (465 if implicit else 587),
        implicit_tls=implicit,
        starttls=False if implicit else (True if require else None),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        cafile=query.get("cafile", [None])[0],
    )


def check_smtp_url(settings: Settings) -> None:
    """Raise ``BadSmtpURL`` when mail could never be sent with ``SMTP_URL`` (at start)."""
    if settings.smtp_url is not None:
        target = parse_smtp_url(str(settings.smtp_url))
        if target.cafile is not None:
            try:
                target.tls_context()
            except (OSError, ssl.SSLError) as exc:
                reason = getattr(exc, "strerror", None) or exc.__class__.__name__
                raise BadSmtpURL(
                    "SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465 "
                    f"(its ?cafile={target.cafile} cannot be read as PEM certificates: {reason})"
                ) from None


def is_loopback(settings: Settings) -> bool:
    """Whether ``BASE_URL`` names this machine only (a development server)."""
    return _loopback_host(urlsplit(settings.base_url).hostname or "")


def _loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def message_id(row: OutboxMessage, settings: Settings) -> str:
    """The same ``Message-ID`` every time this outbox row is sent: a copy sent again (the
    one message in flight when a process was killed, mail queued again by a restore or
    a retry) is recognised as the same message by mail servers and clients, which show
    it once. Keyed with SECRET_KEY, so it tells recipients nothing about the outbox."""
    made = row.created_at.strftime("%Y%m%d%H%M%S%f")
    digest = hmac.new(
        str(settings.secret_key).encode(), f"outbox:{row.id}:{made}".encode(), hashlib.sha256
    ).hexdigest()[:32]
    return f"<{digest}@{urlsplit(settings.base_url).hostname or 'localhost'}>"


def build_message(row: OutboxMessage, settings: Settings) -> EmailMessage:
    key = str(settings.secret_key)
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row.to_addr
    message["Subject"] = row.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(row, settings)
    message.set_content(unseal(row.body_text, key))
    if row.body_html:
        message.add_alternative(unseal(row.body_html, key), subtype="html")
    return message


def print_message(message: EmailMessage, *, show_links: bool = False) -> None:
    """The development transport: the message on the console.

    Card and reset links are bearer tokens: they are printed whole only for a
    development server (``show_links``, a loopback ``BASE_URL``), otherwise redacted as
    in the access log; the outbox viewer still shows them to superusers.
    """
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    if not show_links:
        text = redact_path(text)
    print(
        f"--- email (no SMTP_URL set) ---\nTo: {message['To']}\nSubject: {message['Subject']}\n\n"
        f"{text}\n--- end of email ---",
        flush=True,
    )


@dataclass
class Report:
    sent: int = 0
    retried: int = 0  # refused for now (4xx) or cut off mid-message: queued with backoff
    failed: int = 0  # refused for good (5xx) or unreadable
    released: int = 0  # claimed but not tried (server unreachable, or stopping): queued
    server_problem: str = ""  # why the server could not be used, if it could not

    @property
    def done(self) -> int:
        return self.sent + self.retried + self.failed


class ServerUnavailable(Exception):
    """The SMTP server could not be used at all (not this or that message's fault)."""


@dataclass(frozen=True)
class Outcome:
    kind: str  # sent | retried | failed
    reason: str = ""
    connection_lost: bool = False


def outcome_of(error: BaseException) -> Outcome:
    """How an error while sending one message counts (see the module docstring)."""
    if isinstance(error, UnreadableSeal):
        return Outcome("failed", str(error))
    if isinstance(error, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPTimeoutError):
        return Outcome("retried", f"connection lost while sending: {error}", connection_lost=True)
    if isinstance(error, aiosmtplib.SMTPSenderRefused) and error.code != SIZE_REFUSED:
        # MAIL FROM is the same for every message: the relay wants a login or refuses
        # our sender. The server's problem (like an unreachable one), not this message's.
        reason = f"SMTP server refused the sender (MAIL_FROM): SMTP {error.code}: {error.message}"
        return Outcome("retried", reason, connection_lost=True)
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in error.recipients]
        reason = "; ".join(f"SMTP {r.code}: {r.message}" for r in error.recipients)
        return Outcome("failed" if codes and min(codes) >= 500 else "retried", reason)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        reason = f"SMTP {error.code}: {error.message}"
        return Outcome("failed" if error.code >= 500 else "retried", reason)
    return Outcome("retried", f"{type(error).__name__}: {error}", connection_lost=True)


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession],
    row: OutboxMessage,
    worker: str,
    outcome: Outcome,
    rest: list[int],
) -> set[int]:
    """Record ``row``'s outcome and, in the same transaction, renew the claim on the
    ``rest`` of the batch; returns the ids of the rest still claimed by ``worker``."""
    now = utcnow()
    values = leases.settled(
        outcome.kind, outcome.reason, row.attempts + 1, now, final=frozenset({"failed"})
    )
    async with sessionmaker() as db, db.begin():
        await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.claimed_by == worker)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return await leases.renew(db, OutboxMessage, worker, rest, now)


async def _deliver_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    send: Send,
    row: OutboxMessage,
    worker: str,
    rest: list[int],
) -> tuple[Outcome, set[int]]:
    """Send one message and record what the server said, as one unit; also the ids of
    the ``rest`` of the batch still claimed (see ``_record``)."""
    try:
        message = build_message(row, settings)
    except UnreadableSeal as error:
        message, outcome = None, outcome_of(error)
    except Exception as error:  # a line break in a header, an address no email can carry
        message = None
        outcome = Outcome("failed", f"the message cannot be made into an email: {error}")
    if message is not None:
        try:
            await send(message)
            outcome = Outcome("sent")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            outcome = outcome_of(error)
    ours = await _record(sessionmaker, row, worker, outcome, rest)
    if outcome.kind != "sent":
        log.warning("mail %s not sent (%s): %s", row.id, outcome.kind, outcome.reason)
    return outcome, ours


@contextlib.asynccontextmanager
async def transport(settings: Settings) -> AsyncIterator[Send]:
    """A way to send messages: one SMTP connection, or the console without SMTP_URL.
    Raises ServerUnavailable when the server cannot be used at all."""
    if settings.smtp_url is None:
        show_links = is_loopback(settings)

        async def to_console(message: EmailMessage) -> None:
            print_message(message, show_links=show_links)

        yield to_console
        return
    try:
        target = parse_smtp_url(str(settings.smtp_url))
    except BadSmtpURL as error:  # checked when serve starts; a loop never spins on it
        raise ServerUnavailable(str(error)) from None
    smtp = aiosmtplib.SMTP(
        hostname=target.host,
        port=target.port,
        use_tls=target.implicit_tls,
        start_tls=target.starttls,
        tls_context=target.tls_context()
        if (target.implicit_tls or target.starttls is not False)
        else None,
        username=target.username,
        password=target.password,
        timeout=SMTP_TIMEOUT,
    )
    try:
        await smtp.connect()
    except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as error:
        raise ServerUnavailable(f"SMTP server unreachable: {error}") from error
    try:
        yield smtp.send_message
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(smtp.quit(), 5)
        smtp.close()


async def deliver_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    worker: str | None = None,
) -> Report:
    """Claim and send one batch (see the module docstring)."""
    now = now or utcnow()
    worker = worker or worker_name()
    report = Report()
    claiming = asyncio.ensure_future(
        leases.claim_rows(sessionmaker, OutboxMessage, worker, now, BATCH)
    )
    try:
        pending = await asyncio.shield(claiming)
    except asyncio.CancelledError:
        await leases.finish(claiming)
        if claiming.done() and not claiming.cancelled() and claiming.exception() is None:
            rows = claiming.result()
            await leases.release(sessionmaker, OutboxMessage, [r.id for r in rows], worker, "")
        raise
    if not pending:
        return report
    try:
        async with transport(settings) as send:
            while pending:
                rest = [r.id for r in pending[1:]]
                in_flight = asyncio.ensure_future(
                    _deliver_one(sessionmaker, settings, send, pending[0], worker, rest)
                )
                try:
                    outcome, ours = await asyncio.shield(in_flight)
                except asyncio.CancelledError:
                    # Stopping: the rest of the batch is handed back now (another loop
                    # sends it), then the message in flight is finished and recorded.
                    others, pending = pending[1:], []
                    report.released = len(others)
                    releasing = asyncio.ensure_future(
                        leases.release(
                            sessionmaker, OutboxMessage, [r.id for r in others], worker, ""
                        )
                    )
                    await leases.finish(releasing)
                    await leases.finish(in_flight)
                    raise
                pending = [r for r in pending[1:] if r.id in ours]
                if len(pending) < len(rest):
                    log.warning(
                        "mail: the claim on %d message(s) ran out while the SMTP server was "
                        "slow; another delivery loop has them",
                        len(rest) - len(pending),
                    )
                setattr(report, outcome.kind, getattr(report, outcome.kind) + 1)
                if outcome.connection_lost:
                    report.server_problem = outcome.reason
                    break
    except ServerUnavailable as problem:
        report.server_problem = str(problem)
        log.warning("mail delivery: %s", problem)
    finally:
        if pending:
            report.released = len(pending)
            releasing = asyncio.ensure_future(
                leases.release(
                    sessionmaker,
                    OutboxMessage,
                    [r.id for r in pending],
                    worker,
                    report.server_problem,
                )
            )
            try:
                await asyncio.shield(releasing)
            except asyncio.CancelledError:
                await leases.finish(releasing)
                raise
    return report


async def release_orphans(sessionmaker: async_sessionmaker[AsyncSession], worker: str) -> int:
    """Hand back the messages that stopped processes of this machine had claimed
    (``server.db.leases.release_orphans``)."""
    count = await leases.release_orphans(sessionmaker, OutboxMessage, worker)
    if count:
        log.info("mail: %d message(s) claimed by a stopped process handed back", count)
    return count


async def delivery_task(app: Starlette) -> None:
    """The loop inside ``serve``: deliver whatever is due, then wait a little; wait
    longer (up to five minutes) while the SMTP server cannot be reached. It starts by
    handing back what stopped processes of this machine had claimed."""
    outage = OutageLog(log, "mail")
    try:
        await release_orphans(app.state.sessionmaker, worker_name())
    except Exception as exc:
        outage.failed(exc, "mail: could not look for messages claimed by stopped processes")
    server_wait = 0.0
    while True:
        try:
            report = await deliver_once(app.state.sessionmaker, app.state.settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outage.failed(exc, "mail delivery round failed; trying again shortly")
            report = Report()
        else:
            outage.succeeded()
        if report.server_problem:
            server_wait = min(max(server_wait * 2, 30.0), SERVER_WAIT_MAX)
            await asyncio.sleep(server_wait)
            continue
        server_wait = 0.0
        if report.done == 0:
            await asyncio.sleep(POLL_SECONDS)
