"""Wallet credentials made in the test: a throwaway CA chain standing in for Apple's, a
Google service-account key, and the servers on the loopback that stand in for APNs
and the Google Wallet API (real HTTP — HTTP/2 over TLS for APNs — never mocks)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.applications import Starlette
from starlette.config import Config
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.config import Settings
from server.wallet.config import load_wallet_config

PASS_TYPE_ID = "pass.org.example.tessera-test"
TEAM_ID = "TEST123456"
ISSUER_ID = "3388000000012345678"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str,
    key: Any,
    issuer: tuple[x509.Certificate, Any] | None,
    *,
    ca: bool,
    usage: list[x509.ObjectIdentifier] | None = None,
    san: str | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name = issuer[0].subject if issuer else _name(subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    if san:
        import ipaddress

        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san))]),
            critical=False,
        )
    signer = issuer[1] if issuer else key
    return builder.sign(signer, hashes.SHA256())


def _pem_key(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass
class Credentials:
    root: Path
    wwdr: Path
    cert: Path
    key: Path
    server_cert: Path
    server_key: Path
    google_key_file: Path
    google_public_key: Any

    def apple_env(self) -> dict[str, str]:
        return {
            "WALLET_APPLE_PASS_TYPE_ID": PASS_TYPE_ID,
            "WALLET_APPLE_TEAM_ID": TEAM_ID,
            "WALLET_APPLE_CERT": str(self.cert),
            "WALLET_APPLE_KEY": str(self.key),
            "WALLET_APPLE_WWDR": str(self.wwdr),
            "WALLET_APPLE_APNS_CAFILE": str(self.root),
        }

    def google_env(self) -> dict[str, str]:
        return {
            "WALLET_GOOGLE_ISSUER_ID": ISSUER_ID,
            "WALLET_GOOGLE_KEY_FILE": str(self.google_key_file),
        }


def make_credentials(folder: Path) -> Credentials:
    """A root CA ("Apple"), a WWDR intermediate, the pass-type certificate and key, a
    TLS certificate for 127.0.0.1 (the APNs stand-in) and a Google service account."""
    folder.mkdir(parents=True, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _certificate("Throwaway Root CA", root_key, None, ca=True)
    wwdr_key = ec.generate_private_key(ec.SECP256R1())
    wwdr = _certificate("Throwaway WWDR Intermediate", wwdr_key, (root, root_key), ca=True)
    pass_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pass_cert = _certificate(
        f"Pass Type ID: {PASS_TYPE_ID}",
        pass_key,
        (wwdr, wwdr_key),
        ca=False,
        usage=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate(
        "127.0.0.1",
        server_key,
        (root, root_key),
        ca=False,
        usage=[ExtendedKeyUsageOID.SERVER_AUTH],
        san="127.0.0.1",
    )
    google_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files = {
        "root.pem": root.public_bytes(serialization.Encoding.PEM),
        "wwdr.der": wwdr.public_bytes(serialization.Encoding.DER),  # Apple ships DER
        "pass.pem": pass_cert.public_bytes(serialization.Encoding.PEM)
        + wwdr.public_bytes(serialization.Encoding.PEM),
        "pass.key": _pem_key(pass_key),
        "server.pem": server_cert.public_bytes(serialization.Encoding.PEM),
        "server.key": _pem_key(server_key),
        "google.json": json.dumps(
            {
                "type": "service_account",
                "client_email": "tessera@test-project.iam.gserviceaccount.com",
                "private_key_id": "test-key-1",
                "private_key": _pem_key(google_key).decode(),
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        ).encode(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return Credentials(
        root=folder / "root.pem",
        wwdr=folder / "wwdr.der",
        cert=folder / "pass.pem",
        key=folder / "pass.key",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        google_key_file=folder / "google.json",
        google_public_key=google_key.public_key(),
    )


def with_wallet(settings: Settings, env: dict[str, str]) -> Settings:
    return replace(settings, wallet=load_wallet_config(Config(environ=env)))


# --- the stand-ins on the loopback ---------------------------------------------------


@dataclass
class Recorded:
    """What a stand-in server received, and what it should answer next."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)

    def next_answer(self, default: tuple[int, dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        return self.answers.pop(0) if self.answers else default


def apns_app(recorded: Recorded) -> Starlette:
    async def push(request: Request) -> Response:
        recorded.requests.append(
            {
                "http_version": request.scope.get("http_version"),
                "token": request.path_params["token"],
                "topic": request.headers.get("apns-topic"),
                "body": (await request.body()).decode(),
            }
        )
        status, body = recorded.next_answer((200, {}))
        return JSONResponse(body, status_code=status) if body else Response(status_code=status)

    return Starlette(routes=[Route("/3/device/{token}", push, methods=["POST"])])


def google_app(recorded: Recorded, public_key: Any) -> Starlette:
    import jwt

    async def token(request: Request) -> Response:
        form = await request.form()
        claims = jwt.decode(
            str(form["assertion"]),
            public_key,
            algorithms=["RS256"],
            audience=str(request.url),
        )
        recorded.requests.append({"kind": "token", "claims": claims, "grant": form["grant_type"]})
        return JSONResponse({"access_token": "test-access-token", "expires_in": 3600})

    async def put_object(request: Request) -> Response:
        body = await request.json()
        recorded.requests.append(
            {
                "kind": "put",
                "id": request.path_params["object_id"],
                "authorization": request.headers.get("authorization"),
                "body": body,
            }
        )
        status, answer = recorded.next_answer((200, body))
        if status == 200:
            recorded.objects[body["id"]] = body
        return JSONResponse(answer, status_code=status)

    return Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/walletobjects/v1/genericObject/{object_id}", put_object, methods=["PUT"]),
        ]
    )


@contextlib.asynccontextmanager
async def serving(
    app: Starlette, port: int, *, tls: Credentials | None = None
) -> AsyncIterator[str]:
    """Serve ``app`` on a loopback port with Hypercorn (HTTP/2 over TLS with ``tls``,
    requiring a client certificate from the throwaway CA); yields its base URL."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config as HypercornConfig

    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0
    if tls is not None:
        config.certfile = str(tls.server_cert)
        config.keyfile = str(tls.server_key)
        config.ca_certs = str(tls.root)
        config.verify_mode = ssl.CERT_REQUIRED
        config.alpn_protocols = ["h2"]
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    scheme = "https" if tls else "http"
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
