"""A real SMTP server (aiosmtpd) on loopback that records what it receives."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.live import free_port

# aiosmtpd logs every client's comings and goings at INFO ("mail.log"); a connection
# closed after its test has ended would print among the results.
logging.getLogger("mail.log").setLevel(logging.WARNING)

CARD_URL_RE = re.compile(r"https?://[^\s\"<>]+/card/[A-Za-z0-9_-]{22}")


class CaptureHandler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse_next = 0  # answer this many DATA commands with 451
        self.refuse_rcpt: dict[str, str] = {}  # address -> reply to its RCPT TO
        self.data_delay = 0.0  # seconds each DATA takes (a slow server)
        self.refuse_mail: str | None = None  # reply to every MAIL FROM (e.g. "530 …")

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:  # type: ignore[no-untyped-def]
        if self.refuse_mail:
            return self.refuse_mail
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # type: ignore[no-untyped-def]
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.refuse_next > 0:
            self.refuse_next -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted"


class SmtpCapture:
    def __init__(self, port: int | None = None, **smtp_options: Any) -> None:
        self.handler = CaptureHandler()
        self.port = port or free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **smtp_options
        )

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def text_of(self, message: EmailMessage) -> str:
        body = message.get_body(("plain",))
        assert body is not None
        return str(body.get_content())

    def card_urls(self) -> list[str]:
        return [u for m in self.messages for u in CARD_URL_RE.findall(self.text_of(m))]


@pytest.fixture
def smtp_server() -> Iterator[SmtpCapture]:
    server = SmtpCapture()
    server.start()
    yield server
    server.stop()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made with ``cryptography``."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
