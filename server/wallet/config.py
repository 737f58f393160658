"""Wallet configuration from the environment: ``WALLET_APPLE_*`` and ``WALLET_GOOGLE_*``.

Each wallet is on only when all of its required variables are set; the files they
name are read and checked at start-up, so a wrong path or a key that does not match
its certificate stops the server with a one-line reason instead of failing at a
member's first tap. Secrets (the key password, the private keys) are kept as
``Secret`` or key objects, never printed.
"""

from __future__ import annotations

import json
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from starlette.config import Config
from starlette.datastructures import Secret

APNS_URL = "https://api.push.apple.com"
GOOGLE_API_URL = "https://walletobjects.googleapis.com/walletobjects/v1"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_SAVE_URL = "https://pay.google.com/gp/v/save/"

APPLE_REQUIRED = ("PASS_TYPE_ID", "TEAM_ID", "CERT", "KEY", "WWDR")
GOOGLE_REQUIRED = ("ISSUER_ID", "KEY_FILE")
# Google's ids: the issuer ID is a number; a class or object id is "<issuer>.<suffix>",
# the suffix made of letters, digits, '.', '_' or '-'.
ISSUER_ID_RE = re.compile(r"^[0-9]{1,30}$")
CLASS_SUFFIX_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class WalletConfigError(ValueError):
    """A wallet variable is set but unusable; the message names it and says why."""


SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class AppleWallet:
    pass_type_id: str
    team_id: str
    certificate: x509.Certificate
    key: SigningKey
    wwdr: x509.Certificate
    cert_path: Path
    key_path: Path
    key_password: Secret | None = None
    apns_url: str = APNS_URL
    # A CA file for the APNs server (tests: a throwaway CA); None: the system's.
    apns_cafile: str | None = None


@dataclass(frozen=True)
class GoogleWallet:
    issuer_id: str
    client_email: str
    key: rsa.RSAPrivateKey
    key_id: str | None
    class_suffix: str = "tessera_member"
    api_url: str = GOOGLE_API_URL
    token_url: str = GOOGLE_TOKEN_URL

    @property
    def class_id(self) -> str:
        return f"{self.issuer_id}.{self.class_suffix}"


@dataclass(frozen=True)
class WalletConfig:
    apple: AppleWallet | None = None
    google: GoogleWallet | None = None

    @property
    def any(self) -> bool:
        return self.apple is not None or self.google is not None

    def offered(self) -> frozenset[str]:
        """The wallets members are offered: ``{"apple", "google"}`` or fewer."""
        return frozenset(
            name for name, on in (("apple", self.apple), ("google", self.google)) if on is not None
        )


def _read(name: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise WalletConfigError(f"{name}: cannot read {path}: {exc.strerror or exc}") from None


def load_certificate(name: str, path: str) -> x509.Certificate:
    data = _read(name, path)
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise WalletConfigError(f"{name}: {path} is not a certificate (PEM or DER)") from None


def load_key(name: str, path: str, password: Secret | None) -> SigningKey:
    data = _read(name, path)
    secret = str(password).encode() if password is not None else None
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except (ValueError, TypeError) as exc:
        raise WalletConfigError(f"{name}: cannot load the private key in {path}: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise WalletConfigError(f"{name}: {path} must hold an RSA or EC private key")
    return key


def _public_bytes(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def check_cafile(name: str, path: str) -> str:
    """``path`` if it holds CA certificates ``ssl`` can use (read at start-up, not at the
    first push)."""
    _read(name, path)
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError:
        raise WalletConfigError(f"{name}: {path} holds no PEM CA certificate") from None
    return path


def check_identity(certificate: x509.Certificate, pass_type_id: str, team_id: str) -> None:
    """Apple's pass-type certificate names its pass type (``UID``) and team (``OU``) in
    its subject; a pass whose ``passTypeIdentifier`` or ``teamIdentifier`` differ from
    them is refused by every iPhone. Checked when the subject has them (a test CA's
    need not)."""
    for oid, value, name, what in (
        (NameOID.USER_ID, pass_type_id, "WALLET_APPLE_PASS_TYPE_ID", "pass type"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, team_id, "WALLET_APPLE_TEAM_ID", "team"),
    ):
        named = [str(a.value) for a in certificate.subject.get_attributes_for_oid(oid)]
        if named and value not in named:
            raise WalletConfigError(
                f"{name} is {value}, but WALLET_APPLE_CERT is the certificate of "
                f"{named[0]}: iPhones refuse a pass whose {what} is not the certificate's"
            )


def _apple(config: Config) -> AppleWallet | None:
    values = {n: config(f"WALLET_APPLE_{n}", default="") for n in APPLE_REQUIRED}
    if not any(values.values()):
        return None
    missing = [f"WALLET_APPLE_{n}" for n, v in values.items() if not v]
    if missing:
        raise WalletConfigError(f"Apple Wallet is half configured: set {', '.join(missing)} too")
    password = config("WALLET_APPLE_KEY_PASSWORD", cast=Secret, default=None) or None
    certificate = load_certificate("WALLET_APPLE_CERT", values["CERT"])
    cafile = config("WALLET_APPLE_APNS_CAFILE", default="")
    key = load_key("WALLET_APPLE_KEY", values["KEY"], password)
    if _public_bytes(certificate.public_key()) != _public_bytes(key.public_key()):
        raise WalletConfigError("WALLET_APPLE_KEY is not the key of WALLET_APPLE_CERT")
    check_identity(certificate, values["PASS_TYPE_ID"], values["TEAM_ID"])
    return AppleWallet(
        pass_type_id=values["PASS_TYPE_ID"],
        team_id=values["TEAM_ID"],
        certificate=certificate,
        key=key,
        wwdr=load_certificate("WALLET_APPLE_WWDR", values["WWDR"]),
        cert_path=Path(values["CERT"]),
        key_path=Path(values["KEY"]),
        key_password=password,
        apns_url=config("WALLET_APPLE_APNS_URL", default=APNS_URL).rstrip("/"),
        apns_cafile=check_cafile("WALLET_APPLE_APNS_CAFILE", cafile) if cafile else None,
    )


def _google(config: Config) -> GoogleWallet | None:
    issuer = config("WALLET_GOOGLE_ISSUER_ID", default="")
    key_file = config("WALLET_GOOGLE_KEY_FILE", default="")
    if not issuer and not key_file:
        return None
    if not (issuer and key_file):
        which = "WALLET_GOOGLE_KEY_FILE" if issuer else "WALLET_GOOGLE_ISSUER_ID"
        raise WalletConfigError(f"Google Wallet is half configured: set {which} too")
    text = _read("WALLET_GOOGLE_KEY_FILE", key_file)  # outside the try: its error is a ValueError
    try:
        account = json.loads(text)
        email = str(account["client_email"])
        pem = str(account["private_key"]).encode()
    except (ValueError, KeyError, TypeError):
        raise WalletConfigError(
            f"WALLET_GOOGLE_KEY_FILE: {key_file} is not a service-account key "
            "(JSON with client_email and private_key)"
        ) from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise WalletConfigError(f"WALLET_GOOGLE_KEY_FILE: unusable private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise WalletConfigError("WALLET_GOOGLE_KEY_FILE: the service-account key must be RSA")
    if not ISSUER_ID_RE.match(issuer):
        raise WalletConfigError(
            "WALLET_GOOGLE_ISSUER_ID must be the issuer ID, a number (Google Pay & Wallet Console)"
        )
    class_suffix = config("WALLET_GOOGLE_CLASS_SUFFIX", default="tessera_member")
    if not CLASS_SUFFIX_RE.match(class_suffix):
        raise WalletConfigError(
            "WALLET_GOOGLE_CLASS_SUFFIX may hold only letters, digits, '.', '_' and '-'"
        )
    token_url = config("WALLET_GOOGLE_TOKEN_URL", default="") or str(
        account.get("token_uri") or GOOGLE_TOKEN_URL
    )
    return GoogleWallet(
        issuer_id=issuer,
        client_email=email,
        key=key,
        key_id=account.get("private_key_id"),
        class_suffix=class_suffix,
        api_url=config("WALLET_GOOGLE_API_URL", default=GOOGLE_API_URL).rstrip("/"),
        token_url=token_url,
    )


def load_wallet_config(config: Config) -> WalletConfig:
    """Both wallets from the environment; ``WalletConfigError`` for a broken setting."""
    return WalletConfig(apple=_apple(config), google=_google(config))


def web_service_warning(wallet: WalletConfig, base_url: str) -> str | None:
    """Two lines for ``serve`` when Apple Wallet is on and ``BASE_URL`` is not https.

    A pass's ``webServiceURL`` is ``BASE_URL/wallet/apple``, and Apple requires https
    there: an iPhone refuses a pass with an http web service unless its developer
    setting allows HTTP services. Tessera still builds the pass (a developer phone or a
    test takes it); the operator is told at start-up."""
    if wallet.apple is None or base_url.lower().startswith("https://"):
        return None
    return (
        f"Warning: Apple Wallet is configured but BASE_URL ({base_url}) is not https: iPhones "
        "refuse a pass whose web service is http (only a developer iPhone with 'Allow HTTP "
        "Services' takes it).\nPut Tessera behind TLS and set BASE_URL to its https:// "
        "address (README, Wallet passes)."
    )
