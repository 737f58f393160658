"""Delivering the outbox: claim due rows, send them by SMTP, record the outcome.

Algorithm (``deliver_once``):
1. Claim up to ``BATCH`` due rows in one statement: queued rows whose
   ``next_attempt_at`` has come, and "sending" rows whose claim lease ran out (a loop
   that died mid-send). PostgreSQL skips rows another loop has locked
   (``FOR UPDATE SKIP LOCKED``); SQLite runs the single UPDATE under its one writer
   lock. A claimed row belongs to this loop until ``claimed_until``, so two loops never
   send one message twice.
2. Open one SMTP connection (``SMTP_URL``) and send each claimed message, with sealed
   links opened just before sending. Without ``SMTP_URL`` the message is printed to
   the console instead (development: links whole only for a loopback BASE_URL) and
   stays readable in the outbox viewer.
3. Mark each row sent, or back to queued with exponential backoff and the error
   (``failed`` after ``MAX_ATTEMPTS``). An SMTP outage therefore loses nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from server import background
from server.config import Settings
from server.database import utcnow
from server.mail.models import OutboxMessage
from server.mail.sealed import UnreadableSeal, unseal
from server.web.access_log import redact

log = logging.getLogger("tessera.mail")

BATCH = 50
MAX_ATTEMPTS = 8
LEASE = dt.timedelta(minutes=5)
POLL_SECONDS = 5.0


@dataclass(frozen=True)
class SmtpTarget:
    """Parsed ``SMTP_URL``: smtp://[user:pass@]host[:port] (STARTTLS when offered,
    ``?starttls=require`` to insist) or smtps://… (TLS from the start).
    ``?cafile=PATH`` trusts a private CA."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool | None  # None: when the server offers it
    username: str | None
    password: str | None
    cafile: str | None

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465")
    query = parse_qs(parts.query)
    implicit = parts.scheme == "smtps"
    require = query.get("starttls", [""])[0] == "require"
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 587),
        implicit_tls=implicit,
        starttls=False if implicit else (True if require else None),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        cafile=query.get("cafile", [None])[0],
    )


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min … capped at one hour."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{id(asyncio.get_running_loop()):x}"


async def claim(db: AsyncSession, worker: str, now: dt.datetime, limit: int = BATCH) -> list[int]:
    due = (
        select(OutboxMessage.id)
        .where(
            or_(
                and_(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now),
                and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now),
            )
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # SQLite renders no FOR UPDATE: there the single UPDATE runs under the writer lock.
    result = await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()))
        .values(
            status="sending",
            claimed_by=worker,
            claimed_until=now + LEASE,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    ids = sorted(result.scalars())
    await db.commit()
    return ids


def is_loopback(settings: Settings) -> bool:
    """Whether ``BASE_URL`` names this machine only (a development server)."""
    host = urlsplit(settings.base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_message(row: OutboxMessage, settings: Settings) -> EmailMessage:
    key = str(settings.secret_key)
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row.to_addr
    message["Subject"] = row.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=urlsplit(settings.base_url).hostname or "localhost")
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
        text = redact(text)
    print(
        f"--- email (no SMTP_URL set) ---\nTo: {message['To']}\nSubject: {message['Subject']}\n\n"
        f"{text}\n--- end of email ---",
        flush=True,
    )


@dataclass
class Report:
    sent: int = 0
    retried: int = 0
    failed: int = 0


async def _finish(
    db: AsyncSession, row_id: int, worker: str, now: dt.datetime, error: str | None, attempts: int
) -> str:
    values: dict[str, Any]
    if error is None:
        values = {"status": "sent", "sent_at": now, "last_error": "", "claimed_until": None}
        outcome = "sent"
    elif attempts >= MAX_ATTEMPTS:
        values = {"status": "failed", "last_error": error[:2000], "claimed_until": None}
        outcome = "failed"
    else:
        values = {
            "status": "queued",
            "last_error": error[:2000],
            "next_attempt_at": now + backoff(attempts),
            "claimed_until": None,
        }
        outcome = "retried"
    await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.claimed_by == worker)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return outcome


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
    async with sessionmaker() as db:
        ids = await claim(db, worker, now)
        if not ids:
            return report
        rows = list(
            (
                await db.execute(
                    select(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids))
                    .order_by(OutboxMessage.id)
                )
            ).scalars()
        )
    errors: dict[int, str | None] = {}
    if settings.smtp_url is None:
        for row in rows:
            try:
                print_message(build_message(row, settings), show_links=is_loopback(settings))
                errors[row.id] = None
            except UnreadableSeal as exc:
                errors[row.id] = str(exc)
    else:
        errors = await _send_smtp(rows, settings, parse_smtp_url(str(settings.smtp_url)))
    async with sessionmaker() as db:
        for row in rows:
            error = errors.get(row.id, "not attempted")
            attempts = (
                MAX_ATTEMPTS if isinstance(error, str) and "SECRET_KEY" in error else row.attempts
            )
            outcome = await _finish(db, row.id, worker, utcnow(), error, attempts)
            setattr(report, outcome, getattr(report, outcome) + 1)
            if error:
                log.warning("mail %s to %s not sent (%s): %s", row.id, row.to_addr, outcome, error)
        await db.commit()
    return report


async def _send_smtp(
    rows: list[OutboxMessage], settings: Settings, target: SmtpTarget
) -> dict[int, str | None]:
    errors: dict[int, str | None] = {}
    try:
        async with aiosmtplib.SMTP(
            hostname=target.host,
            port=target.port,
            use_tls=target.implicit_tls,
            start_tls=target.starttls,
            tls_context=target.tls_context()
            if (target.implicit_tls or target.starttls is not False)
            else None,
            username=target.username,
            password=target.password,
            timeout=30,
        ) as smtp:
            for row in rows:
                try:
                    await smtp.send_message(build_message(row, settings))
                    errors[row.id] = None
                except UnreadableSeal as exc:
                    errors[row.id] = str(exc)
                except aiosmtplib.SMTPResponseException as exc:
                    errors[row.id] = f"SMTP {exc.code}: {exc.message}"
                except aiosmtplib.SMTPException as exc:
                    errors[row.id] = f"SMTP error: {exc}"
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        for row in rows:
            errors.setdefault(row.id, f"SMTP server unreachable: {exc}")
    return errors


async def delivery_task(app: Starlette) -> None:
    """The loop inside ``serve``: deliver whatever is due, then wait a little."""
    while True:
        try:
            report = await deliver_once(app.state.sessionmaker, app.state.settings)
        except Exception:
            log.exception("mail delivery round failed; trying again shortly")
            report = Report()
        if report.sent + report.retried + report.failed == 0:
            await asyncio.sleep(POLL_SECONDS)


if delivery_task not in background.TASKS:
    background.TASKS.append(delivery_task)
