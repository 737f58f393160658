"""Telling an Apple device that its pass changed: an empty push through APNs.

APNs speaks only HTTP/2 and authenticates the sender by its TLS client certificate —
for Wallet, the pass-type certificate itself (``WALLET_APPLE_CERT``/``_KEY``); the push
goes to ``/3/device/<push token>`` with the pass type as ``apns-topic`` and ``{}`` as
its body. The device then asks the web service which passes changed
(``server.wallet.apple_routes``).
"""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization

from server.wallet.config import AppleWallet
from server.wallet.outcome import Outcome

TIMEOUT = 15.0
GONE_REASONS = {"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered"}


def tls_context(apple: AppleWallet) -> ssl.SSLContext:
    """The TLS client context for APNs. ``ssl`` reads certificates only from PEM files,
    and Apple hands out the pass-type certificate as DER (``pass.cer``), which
    ``WALLET_APPLE_CERT`` may name: the certificate already loaded, followed by the
    WWDR intermediate that completes its chain, is written as PEM to a private
    temporary file for the moment ``ssl`` reads it (certificates are public; the key
    is read from its own file)."""
    context = ssl.create_default_context(cafile=apple.apns_cafile)
    password = str(apple.key_password) if apple.key_password is not None else None
    with tempfile.TemporaryDirectory(prefix="tessera-apns-") as folder:
        certificate = Path(folder) / "pass.pem"
        certificate.write_bytes(
            b"".join(
                c.public_bytes(serialization.Encoding.PEM) for c in (apple.certificate, apple.wwdr)
            )
        )
        context.load_cert_chain(str(certificate), str(apple.key_path), password)
    return context


class ApnsClient:
    """One HTTP/2 connection to APNs, kept open between pushes."""

    def __init__(self, apple: AppleWallet) -> None:
        self.apple = apple
        self.client = httpx.AsyncClient(
            http1=False, http2=True, verify=tls_context(apple), timeout=TIMEOUT
        )

    async def push(self, push_token: str) -> Outcome:
        try:
            response = await self.client.post(
                f"{self.apple.apns_url}/3/device/{push_token}",
                headers={"apns-topic": self.apple.pass_type_id, "apns-priority": "5"},
                content=b"{}",
            )
        except (httpx.HTTPError, OSError, ssl.SSLError) as error:
            return Outcome("retried", f"APNs unreachable: {type(error).__name__}: {error}")
        if response.status_code in (400, 410):
            reason = _reason(response)
            if response.status_code == 410 or reason in GONE_REASONS:
                return Outcome("dropped", f"APNs: {reason or 'Unregistered'}", device_gone=True)
        if response.status_code == 403:  # the certificate: the operator's to fix; keep trying
            return Outcome("retried", f"APNs refused the certificate: {_reason(response)}")
        return Outcome.of_status(response.status_code, response.text, "APNs")

    async def close(self) -> None:
        await self.client.aclose()


def _reason(response: httpx.Response) -> str:
    try:
        return str(response.json().get("reason", ""))
    except ValueError:
        return ""
